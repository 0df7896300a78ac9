"""Pages to Singer lines and state: the output path chosen once per stream, the page
sink that moves bookmarks only past written records, the record check, lean encoding
and the worker processes that render pages. Takes narrow arguments, never a stream."""
