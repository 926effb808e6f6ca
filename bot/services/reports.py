"""Monthly reports, visits and cross-check flags: the public face of the report services.

The work is split by job; callers import from here and need not know where a name lives:
- bot.services.report_core: views returned to handlers (Step, QuestionView, SummaryView,
  Notice), ReportError, loading drafts, access checks, the question/summary views;
- bot.services.report_drafts: opening, resuming and answering drafts (the form state machine);
- bot.services.report_saving: saving reports and visits, revisions, late marking and the
  cross-check flags raised on save;
- bot.services.report_flags: the facilitator's caseload and resolving flags.

The read model of which value counts is bot.services.read_model (known to callers as
reports.effective_reports).
"""

from __future__ import annotations

from bot.services.read_model import effective_reports
from bot.services.report_core import (
    GRADUATION,
    MONTHLY,
    VISIT,
    Draft,
    Notice,
    QuestionView,
    ReportError,
    Step,
    SummaryView,
    check_access,
    current_question,
    current_view,
    open_draft,
    open_drafts,
)
from bot.services.report_drafts import (
    answer,
    ask_cancel,
    back,
    cancel,
    edit_answer,
    edit_menu,
    missing_periods,
    report_periods,
    resume,
    start_report,
    start_visit,
)
from bot.services.report_flags import (
    CaseloadPage,
    CaseRow,
    FlagView,
    caseload,
    caseload_choices,
    flag_detail,
    open_flags,
    resolve_flag,
    start_flag_value,
)
from bot.services.report_saving import report_columns, save

__all__ = [
    "GRADUATION",
    "MONTHLY",
    "VISIT",
    "CaseRow",
    "CaseloadPage",
    "Draft",
    "FlagView",
    "Notice",
    "QuestionView",
    "ReportError",
    "Step",
    "SummaryView",
    "answer",
    "ask_cancel",
    "back",
    "cancel",
    "caseload",
    "caseload_choices",
    "check_access",
    "current_question",
    "current_view",
    "edit_answer",
    "edit_menu",
    "effective_reports",
    "flag_detail",
    "missing_periods",
    "open_draft",
    "open_drafts",
    "open_flags",
    "report_columns",
    "report_periods",
    "resolve_flag",
    "resume",
    "save",
    "start_flag_value",
    "start_report",
    "start_visit",
]
