"""Singer tap for the Klaviyo API."""
