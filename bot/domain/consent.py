"""The privacy notice (UU 27/2022 tentang Pelindungan Data Pribadi): its version. Pure."""

from __future__ import annotations

# Bump when templates/*/consent_notice.j2 changes in substance: accounts are asked again.
NOTICE_VERSION = "2024-01-v1"
