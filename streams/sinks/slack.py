"""A window as a Slack message: who, account, play, why now, send time in their zone,
talking points. Block Kit `blocks` plus a plain `text` fallback (notifications, screen
readers). Pure; called once per delivery attempt by `streams.sinks.targets.SlackTarget`.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from signals.windows import WindowOpened

__all__ = ["slack_message"]

_PLAYS = {
    "post_demo": "Post-demo recap",
    "no_response": "No-response nudge",
    "value_add": "Value drop",
    "signal_triggered": "Signal-triggered",
    "champion_moved": "Champion moved",
    "funding": "Funding",
    "multi_thread": "Multi-thread",
    "breakup": "Breakup",
    "post_purchase": "Post-purchase check-in",
}


def _escape(text: str) -> str:
    """Slack mrkdwn control characters (a name like "A&B <Labs>" must not become markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _who(window: WindowOpened) -> str:
    person = window.person
    name = person.name or person.email or window.person_key
    return f"{name}, {person.title}" if person.title else name


def _account(window: WindowOpened) -> str:
    if window.account is None:
        return window.account_key or "unknown account"
    return window.account.name or window.account.domain


def _send_time(window: WindowOpened) -> str:
    local = window.draft.send_at.astimezone(ZoneInfo(window.draft.timezone))
    return f"{local:%a %d %b, %H:%M} ({window.draft.timezone})"


def slack_message(window: WindowOpened) -> dict[str, Any]:
    who, account = _escape(_who(window)), _escape(_account(window))
    play = _PLAYS.get(window.play, window.play)
    draft = window.draft
    points = "\n".join(f"• {_escape(p)}" for p in draft.talking_points) or "• (none)"
    fields = [
        f"*Play*\n{play}",
        f"*Channel*\n{draft.channel}",
        f"*Send*\n{_send_time(window)}",
        f"*Score*\n{window.score.total:.0f} (threshold {window.score.threshold:.0f})",
    ]
    return {
        "text": f"Follow up with {who} at {account}: {play}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": f"Follow up: {_who(window)}"[:150]},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{who}* at *{account}*"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Why now*\n{_escape(draft.why_now)}"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Talking points*\n{points}"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"window `{window.window_id}` · expires "
                        f"{draft.expires_at:%Y-%m-%d %H:%M} UTC",
                    }
                ],
            },
        ],
    }
