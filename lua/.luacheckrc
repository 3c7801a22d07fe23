-- Scripts run in Redis' sandbox: only these globals exist, and none may be written.
std = "lua51"
read_globals = {"redis", "KEYS", "ARGV", "cjson"}
allow_defined_top = false
max_line_length = 110
