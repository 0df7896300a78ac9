"""The SDK's standard tap tests, run against the simulator."""

from __future__ import annotations

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from klaviyo_sim import KlaviyoSimulator
from tap_klaviyo.streams.reporting import ReportingStream
from tap_klaviyo.tap import TapKlaviyo

# The standard suite builds its config when the class is made, so the simulator
# starts at import and lives (on a daemon thread) for the whole session.
SIMULATOR = KlaviyoSimulator(seed=0, reality=True).start()


class TapKlaviyoWithoutReports(TapKlaviyo):
    """The suite's dry run forces every stream on; the report endpoints allow two
    requests a minute (and the tap waits rather than earn a 429), so the report
    streams are tested on their own terms in tests/test_reporting.py instead. The
    other opt-in streams are selected like the rest: the suite reads every stream's
    schema off the catalog, which leaves the properties of unselected streams out."""

    def discover_streams(self) -> list:
        streams = [s for s in super().discover_streams() if not isinstance(s, ReportingStream)]
        for stream in streams:
            stream.selected_by_default = True
        return streams


TestTapKlaviyo = get_tap_test_class(
    tap_class=TapKlaviyoWithoutReports,
    config={"api_key": SIMULATOR.api_key, "api_url": SIMULATOR.url},
    suite_config=SuiteConfig(ignore_no_records_for_streams=[]),
)
