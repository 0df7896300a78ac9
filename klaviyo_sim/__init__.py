"""A Klaviyo REST API simulator for tap-klaviyo's tests, scripts/run and benchmarks (README.md)."""

from .data import SimData
from .faults import Fault, Faults
from .server import ApiError, KlaviyoSimulator, RequestLog
from .spec import Operation, Spec, load_spec

__all__ = [
    "ApiError",
    "Fault",
    "Faults",
    "KlaviyoSimulator",
    "Operation",
    "RequestLog",
    "SimData",
    "Spec",
    "load_spec",
]
