"""Which requests go out, in what order: the query string, run bounds, the one paging
loop, the recovery table, parallel time slices, child prefetch, and the reader that
puts them together for one stream. Takes narrow arguments, never a stream."""
