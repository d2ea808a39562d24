# Sourced by the echo programs' end-to-end tests (apps/test_demi_echo.sh,
# bench/test_plain_echo.sh).

# echo_server_start LOG COMMAND...: starts COMMAND (an echo server told to
# serve 127.0.0.1:0) in the background with its stderr in LOG, sets
# SERVER_PID, and waits up to 5 s for the port it names in its first line:
# sets PORT. Returns 1 when the server died or named no port.
echo_server_start() {
    local log=$1
    shift
    "$@" 2>"$log" &
    SERVER_PID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*serving .* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
