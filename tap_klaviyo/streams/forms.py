"""Sign-up forms and their versions."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream


class FormsStream(KlaviyoStream):
    name = "forms"
    path = "/api/forms"
    replication_key = "updated_at"
    child_key = "form_id"


class FormVersionsStream(KlaviyoChildStream):
    """A new or edited version need not move its form's `updated_at`: every form is
    visited, each with its own bookmark."""

    name = "form_versions"
    path = "/api/forms/{form_id}/form-versions"
    parent_stream_type = FormsStream
    parent_key = "form_id"
    replication_key = "updated_at"
    ignore_parent_replication_key = True
