-- wrk script: POST the JSON body that bench/run.ts puts in the BENCH_BODY environment variable.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BENCH_BODY") or error("BENCH_BODY is not set (run through bench/run.ts)")
