-- The "/" menu set for one private chat with BotCommandScopeChat (bot/chat_menus.py): the chats
-- of linked facilitators, staff and admins get their role's menu; everyone else sees the
-- default scope (the recipients' menu). A row says what Telegram was last told for that chat,
-- so each pass sets only what changed (link, unlink, role) and deletes the menu of a chat
-- whose account left.
CREATE TABLE chat_menus (
    chat_id INTEGER PRIMARY KEY,
    menu TEXT NOT NULL,          -- '<role>:<language>' as set
    set_at TEXT NOT NULL
);
