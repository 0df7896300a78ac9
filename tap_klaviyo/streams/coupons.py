"""Coupons and their codes."""

from __future__ import annotations

from tap_klaviyo.client import KlaviyoChildStream, KlaviyoStream


class CouponsStream(KlaviyoStream):
    name = "coupons"
    path = "/api/coupons"
    child_key = "coupon_id"


class CouponCodesStream(KlaviyoChildStream):
    name = "coupon_codes"
    path = "/api/coupons/{coupon_id}/coupon-codes"
    parent_stream_type = CouponsStream
    parent_key = "coupon_id"
