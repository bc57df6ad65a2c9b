"""The fund's calendar: every date a rule or a person reads (filing day, situation date) is the
Africa/Casablanca date of an instant recorded in the log."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

CASABLANCA = ZoneInfo("Africa/Casablanca")


def local_date(moment: datetime) -> date:
    return moment.astimezone(CASABLANCA).date()
