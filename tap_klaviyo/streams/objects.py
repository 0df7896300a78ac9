"""Custom objects: their types, each type's records, and the data sources behind them.
Full table: the endpoints neither filter nor sort."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream

# Klaviyo documents custom objects as a paid feature (klaviyo_sim README).
PAID = "custom objects (a paid email plan)"


class CustomObjectStream(KlaviyoStream):
    # Opt in: a paid feature, and a scope (custom-objects:read) of its own.
    selected_by_default = False
    paid_add_on = PAID


class ObjectTypesStream(CustomObjectStream):
    name = "object_types"
    path = "/api/object-types"
    child_key = "object_type_id"


class ObjectRecordsStream(KlaviyoChildStream):
    """Records of every object type; their properties are the type's own."""

    name = "object_records"
    path = "/api/object-types/{object_type_id}/object-records"
    parent_stream_type = ObjectTypesStream
    parent_key = "object_type_id"
    selected_by_default = False
    paid_add_on = PAID


class DataSourcesStream(CustomObjectStream):
    name = "data_sources"
    path = "/api/data-sources"
