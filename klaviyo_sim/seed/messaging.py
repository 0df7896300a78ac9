"""Templates and images, campaigns with their messages, flows with their actions and messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..data import iso
from .base import SeedBase, short_id, spread, ulid


class MessagingSeed(SeedBase):
    """Templates, universal content, images, campaigns and flows."""

    def templates(self) -> list[str]:
        rng = self.rng
        made = spread(rng, "2023-04-01T00:00:00+00:00", "2026-09-01T00:00:00+00:00", 12)
        ids = []
        for i in range(12):
            rid = short_id(rng)
            ids.append(rid)
            self.add(
                "template",
                rid,
                {
                    "name": ["Welcome", "Spring Sale 🌸", "Receipt", "Newsletter Ünïcode"][i % 4]
                    + f" #{i}",
                    "editor_type": ["CODE", "SYSTEM_DRAGGABLE", "USER_DRAGGABLE"][i % 3],
                    "html": f"<html><body><h1>Hello {{{{ first_name|default:'there' }}}} #{i}"
                    "</h1><p>Grüße 👋</p></body></html>",
                    "text": None if i % 2 else f"Hello #{i}",
                    "amp": None,
                    "created": iso(made[i]),
                    "updated": iso(made[i] + timedelta(days=i)),
                    "definition": None,
                },
            )
        made = spread(rng, "2024-04-01T00:00:00+00:00", "2026-09-01T00:00:00+00:00", 4)
        definitions: list[dict[str, Any] | None] = [
            {
                "content_type": "block",
                "type": "html",
                "data": {
                    "content": "<p>Free shipping 🚚 über 50 €</p>",
                    "display_options": {
                        "show_on": "all",
                        "visible_check": None,
                        "content_repeat": None,
                    },
                },
            },
            {"content_type": "block", "type": "horizontal_rule", "data": None},
            {"content_type": "section", "type": "section", "data": None},
            None,
        ]
        for i, definition in enumerate(definitions):
            self.add(
                "template-universal-content",
                ulid(rng, made[i]),
                {
                    "name": ["Footer", "Divider", "Hero section", "Empty"][i],
                    "definition": definition,
                    "created": iso(made[i]),
                    "updated": iso(made[i] + timedelta(hours=i)),
                    "screenshot_status": ["completed", "never_generated", "stale", "failed"][i],
                    "screenshot_url": f"https://screens.example.com/{i}.png" if i == 0 else "",
                },
            )
        self.template_ids = ids
        return ids

    def images(self) -> None:
        rng = self.rng
        made = spread(rng, "2024-01-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00", 6)
        names = ["logo.png", "Café banner ☕.jpeg", "hero.gif", "footer.png", "hidden.png", "x"]
        formats = ["png", "jpeg", "gif", "png", "png", "jpeg"]
        self.image_ids = []
        for i, name in enumerate(names):
            rid = str(101 + i * 7)
            self.image_ids.append(rid)
            self.add(
                "image",
                rid,
                {
                    "name": name,
                    "image_url": f"https://images.example.com/{rid}/{name.replace(' ', '%20')}",
                    "format": formats[i],
                    "size": 1024 * (i + 1) + i,
                    "hidden": i == 4,
                    "updated_at": iso(made[i]),
                },
            )

    def campaigns(self) -> None:
        rng = self.rng
        plan = (
            [("email", False)] * 5
            + [("email", True)] * 2
            + [("sms", False)] * 3
            + [("sms", True)]
            + [("mobile_push", False)] * 3
            + [("mobile_push", True)]
        )
        made = spread(rng, "2024-02-01T00:00:00+00:00", "2026-10-15T00:00:00+00:00", len(plan))
        rng.shuffle(made)
        names = ["Spring Sale 🌸", "Welcome", "Black Friday", "Nöel", "Restock", "Survey"]
        statuses = ["Sent", "Sent", "Draft", "Scheduled", "Cancelled", "Sent"]
        notes: dict[str, list[str]] = {"email": [], "sms": [], "mobile_push": [], "archived": []}
        for i, (channel, archived) in enumerate(plan):
            created = made[i]
            rid = ulid(rng, created)
            status = statuses[i % len(statuses)]
            sent = status in ("Sent", "Scheduled")
            send_at = created + timedelta(days=2)
            if i == 3:
                strategy: dict[str, Any] = {"method": "smart_send_time", "date": "2025-03-04"}
            elif i == 8:
                strategy = {
                    "method": "throttled",
                    "datetime": iso(send_at),
                    "throttle_percentage": 20,
                }
            elif sent:
                strategy = {
                    "method": "static",
                    "datetime": iso(send_at),
                    "options": {"is_local": False},
                }
            else:
                strategy = {"method": "immediate"}
            tracking: dict[str, Any] | None
            if channel == "email":
                tracking = {
                    "add_tracking_params": True,
                    "custom_tracking_params": [
                        {"type": "dynamic", "value": "campaign_id", "name": "utm_campaign"},
                        {"type": "static", "value": "klaviyo", "name": "utm_source"},
                    ],
                    "is_tracking_clicks": True,
                    "is_tracking_opens": i % 2 == 0,
                }
            elif channel == "sms":
                tracking = {"add_tracking_params": False, "custom_tracking_params": None}
            else:
                tracking = None
            self.add(
                "campaign",
                rid,
                {
                    "name": f"{names[i % len(names)]} ({channel}) #{i}",
                    "status": status,
                    "archived": archived,
                    "audiences": {
                        "included": [self.list_ids[i % 3]],
                        "excluded": [self.list_ids[5]] if i % 4 == 0 else None,
                    },
                    "send_options": {"use_smart_sending": i % 3 != 0},
                    "tracking_options": tracking,
                    "send_strategy": strategy,
                    "created_at": iso(created),
                    "scheduled_at": iso(created + timedelta(days=1)) if sent else None,
                    "updated_at": iso(created + timedelta(days=1, hours=i)),
                    "send_time": iso(send_at) if status == "Sent" else None,
                },
                meta={"channel": channel},
            )
            notes[channel].append(rid)
            if archived:
                notes["archived"].append(rid)
            message_id = ulid(rng, created)
            relationships: dict[str, Any] = {"campaign": {"data": {"type": "campaign", "id": rid}}}
            if channel == "email":
                definition: dict[str, Any] = {
                    "channel": "email",
                    "label": f"Email #{i}",
                    "content": {
                        "subject": f"{names[i % len(names)]} \u2013 don't miss it",
                        "preview_text": None if i % 2 else "Ünïcode preview ✓",
                        "from_email": "hello@sim-store.example",
                        "from_label": "Sim Störe",
                        "reply_to_email": None,
                        "cc_email": None,
                        "bcc_email": None,
                    },
                }
                relationships["template"] = {
                    "data": {"type": "template", "id": self.template_ids[i % 12]}
                }
                if i == 0:
                    relationships["image"] = {"data": {"type": "image", "id": self.image_ids[0]}}
            elif channel == "sms":
                definition = {
                    "channel": "sms",
                    "content": {"body": f"Sale! 🎉 #{i} Reply STOP to opt out", "media_url": None},
                    "render_options": {
                        "shorten_links": True,
                        "add_org_prefix": True,
                        "add_info_link": True,
                        "add_opt_out_language": False,
                    },
                }
            elif i % 2:
                definition = {
                    "channel": "mobile_push",
                    "notification_type": "silent",
                    "kv_pairs": {"refresh": "true"},
                }
            else:
                definition = {
                    "channel": "mobile_push",
                    "notification_type": "standard",
                    "content": {
                        "title": "Psst 👀",
                        "body": f"Push #{i}",
                        "dynamic_image": None,
                        "action_buttons": None,
                    },
                    "kv_pairs": None,
                    "options": {"on_open": None, "badge": None, "play_sound": True},
                }
            self.add(
                "campaign-message",
                message_id,
                {
                    "definition": definition,
                    "send_times": [{"datetime": iso(send_at), "is_local": False}] if sent else None,
                    "created_at": iso(created),
                    "updated_at": iso(created + timedelta(hours=1)),
                },
                relationships=relationships,
            )
            if i % 3 == 0:
                self.data.link("campaign", rid, "tags", self.tag_ids[i % 3])
        self.notes["campaigns"] = notes

    def flows(self) -> None:
        rng = self.rng
        specs = [
            ("Welcome Series 👋", "live", False, "Added to List"),
            ("Abandoned Cart", "live", False, "Metric"),
            ("Old Winback", "draft", True, "Metric"),
            ("Birthday 🎂", "manual", False, "Date Based"),
            ("Price Drop", "draft", False, "Price Drop"),
            ("Unconfigured flow", "draft", False, "Unconfigured"),
        ]
        made = spread(rng, "2023-06-01T00:00:00+00:00", "2026-08-01T00:00:00+00:00", len(specs))
        flow_ids = []
        for i, (name, status, archived, trigger) in enumerate(specs):
            rid = short_id(rng)
            flow_ids.append(rid)
            self.add(
                "flow",
                rid,
                {
                    "name": name,
                    "status": status,
                    "archived": archived,
                    "created": iso(made[i]),
                    "updated": iso(made[i] + timedelta(days=10 + i)),
                    "trigger_type": trigger,
                },
            )
        self.data.link("flow", flow_ids[0], "tags", self.tag_ids[0])
        self.data.link("flow", flow_ids[1], "tags", self.tag_ids[1])
        plans = {0: ["time-delay", "send-email", "conditional-split", "send-sms"]}
        plans[1] = ["send-email", "time-delay"]
        plans[2] = ["send-email"]
        action_number = 90_000_001
        notes: dict[str, Any] = {"flow_ids": flow_ids, "archived": [flow_ids[2]], "actions": {}}
        for flow_index, kinds in plans.items():
            base = made[flow_index] + timedelta(hours=1)
            ids = [str(action_number + n) for n in range(len(kinds))]
            action_number += 100
            notes["actions"][flow_ids[flow_index]] = ids
            for n, kind in enumerate(kinds):
                aid = ids[n]
                following = ids[n + 1] if n + 1 < len(ids) else None
                stamp = base + timedelta(minutes=n)
                message_id = short_id(rng)
                message = self._flow_message(kind, message_id, n)
                definition: dict[str, Any] = {"id": aid, "temporary_id": None, "type": kind}
                if kind == "time-delay":
                    definition["links"] = {"next": following}
                    definition["data"] = {
                        "unit": "days",
                        "value": 1 + n,
                        "secondary_value": None,
                        "timezone": "profile",
                        "delay_until_time": None,
                        "delay_until_weekdays": None,
                    }
                elif kind == "conditional-split":
                    definition["links"] = {"next_if_true": following, "next_if_false": None}
                    definition["data"] = {"profile_filter": None}
                else:
                    definition["links"] = {"next": following}
                    definition["data"] = {"message": message, "status": "live"}
                self.add(
                    "flow-action",
                    aid,
                    {"created": iso(stamp), "updated": iso(stamp), "definition": definition},
                    relationships={"flow": {"data": {"type": "flow", "id": flow_ids[flow_index]}}},
                )
                if message is None:
                    continue
                relationships: dict[str, Any] = {
                    "flow-action": {"data": {"type": "flow-action", "id": aid}}
                }
                if kind == "send-email":
                    relationships["template"] = {
                        "data": {"type": "template", "id": self.template_ids[n]}
                    }
                self.add(
                    "flow-message",
                    message_id,
                    {
                        "channel": "email" if kind == "send-email" else "sms",
                        "created": iso(stamp),
                        "updated": iso(stamp + timedelta(days=1)),
                        "definition": message,
                    },
                    relationships=relationships,
                )
        self.notes["flows"] = notes

    def _flow_message(self, kind: str, message_id: str, n: int) -> dict[str, Any] | None:
        if kind == "send-email":
            return {
                "from_email": "hello@sim-store.example",
                "from_label": "Sim Störe",
                "reply_to_email": None,
                "cc_email": None,
                "bcc_email": None,
                "subject_line": "Welcome to Sim Störe 👋",
                "preview_text": None,
                "template_id": self.template_ids[n],
                "smart_sending_enabled": True,
                "transactional": False,
                "add_tracking_params": True,
                "custom_tracking_params": None,
                "additional_filters": None,
                "name": f"Email #{n}",
                "id": message_id,
            }
        if kind == "send-sms":
            return {
                "body": "Thanks for joining! 🎉 Reply STOP to opt out",
                "image_id": None,
                "dynamic_image": None,
                "message_hierarchy": None,
                "shorten_links": True,
                "include_contact_card": False,
                "add_org_prefix": True,
                "add_info_link": True,
                "add_opt_out_language": False,
                "smart_sending_enabled": True,
                "sms_quiet_hours_enabled": True,
                "transactional": False,
                "add_tracking_params": False,
                "custom_tracking_params": None,
                "template_id": None,
                "additional_filters": None,
                "name": f"SMS #{n}",
                "id": message_id,
            }
        return None
