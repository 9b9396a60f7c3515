-- wrk script for run.sh: POST a small generateContent body; print one machine-readable line.
wrk.method = "POST"
wrk.body = '{"contents":[{"parts":[{"text":"Say hello."}]}]}'
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
