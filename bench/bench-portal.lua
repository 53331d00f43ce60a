-- bench-portal.lua: the wrk script of bench/bench-portal, a booking rush.
--
--   wrk -t2 -c256 -d10s -s bench/bench-portal.lua URL -- BASE STRIDE DAY0 SLOTS [REFS]
--   wrk -t2 -c256 -d10s -s bench/bench-portal.lua URL -- plain
--   wrk -t2 -c256 -d10s -s bench/bench-portal.lua URL -- get PATH
--
-- Every request is a POST /api/bookings (docs/api.md) for a different citizen:
-- national ID number BASE + thread * STRIDE + n (n counts this thread's
-- requests), so the numbers are unique as long as each wrk run gets its own
-- block [BASE, BASE + threads * STRIDE) and a thread sends fewer than STRIDE
-- requests.  The name is letters only (the number spelled in letters), the
-- phone a Kenyan mobile, 07 followed by the number's last 8 digits.  The slot
-- spreads the bookings over four services (S1..S4, 5-minute slots) and SLOTS
-- slots from DAY0 (unix seconds, a midnight): slot (number * 7919) mod SLOTS,
-- a permutation when SLOTS shares no factor with 7919, so consecutive citizens
-- land in different slots and none comes near its capacity.
--
-- The response hook counts answers by status; with REFS it also appends the
-- "ref" of every 201 to REFS.<thread> (one per line; the files are flushed
-- when wrk exits) so the caller can check that each is in the store.  done()
-- prints one line for the caller to parse:
--
--   WRK requests=N duration_us=D p50_us=.. p90_us=.. p99_us=.. max_us=..
--       connect=.. read=.. write=.. timeout=.. non2xx=.. status_201=.. status_409=..
--
-- The same script drives the hello server (bench/foleni-bench-hello.c), so
-- wrk does the same work per request against both.  With "plain" it defines
-- no request or response function, so wrk sends its own static GET / with no
-- Lua per request (the cheapest client: the usual "hello" ceiling); done()
-- still prints the line, without status counts.  With "get PATH" every
-- request is the same GET of PATH (a read route, such as an office's queue
-- status), its answers counted by status.

local SERVICES = { "S1", "S2", "S3", "S4" }
local SLOT_SECONDS = 300
local LETTERS = "abcdefghijklmnopqrstuvwxyz"

local threads = {}

-- main state: number the threads before their init() runs
function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local base, stride, day0, slots, refs
local n = 0
statuses = {}

function init(args)
   if args[1] == "plain" then
      -- wrk's own static GET /, no Lua per request: the classic hello figure
      request = nil
      response = nil
      return
   end
   if args[1] == "get" then
      -- a read route: the same GET for every request, answers still counted
      local fixed = wrk.format("GET", args[2])
      request = function() return fixed end
      return
   end
   base = tonumber(args[1]) or 10000000
   stride = tonumber(args[2]) or 4000000
   day0 = tonumber(args[3]) or 1796158800
   slots = tonumber(args[4]) or 86400
   if args[5] and args[5] ~= "" then
      refs = assert(io.open(args[5] .. "." .. tid, "w"))
      refs:setvbuf("full", 65536)
   end
end

-- the number in letters, so the name has no digits: 10000001 -> "Bjjjjjjk"
local function spelled(number)
   local out = {}
   repeat
      local d = number % 26
      out[#out + 1] = LETTERS:sub(d + 1, d + 1)
      number = (number - d) / 26
   until number == 0
   local s = table.concat(out):reverse()
   return s:sub(1, 1):upper() .. s:sub(2)
end

local headers = { ["Content-Type"] = "application/json" }

function request()
   n = n + 1
   if n >= stride then
      error("more than STRIDE requests from one thread: ID numbers would repeat")
   end
   local id = base + tid * stride + n
   local start = day0 + ((id * 7919) % slots) * SLOT_SECONDS
   local body = string.format(
      '{"office":"BENCH","service":"%s","start":%d,"name":"Wanjiku %s","id_type":"national",' ..
      '"id_number":"%d","phone":"07%08d"}',
      SERVICES[id % 4 + 1], start, spelled(id), id, id % 100000000)
   return wrk.format("POST", "/api/bookings", headers, body)
end

function response(status, hdrs, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status == 201 and refs then
      local ref = body:match('"ref":"(%w+)"')
      if ref then
         refs:write(ref, "\n")
      end
   end
end

function done(summary, latency, requests)
   local total = {}
   for _, thread in ipairs(threads) do
      local s = thread:get("statuses")
      for status, count in pairs(s) do
         total[status] = (total[status] or 0) + count
      end
   end
   local e = summary.errors
   local line = string.format(
      "WRK requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "connect=%d read=%d write=%d timeout=%d non2xx=%d",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status)
   local keys = {}
   for status in pairs(total) do
      keys[#keys + 1] = status
   end
   table.sort(keys)
   for _, status in ipairs(keys) do
      line = line .. string.format(" status_%d=%d", status, total[status])
   end
   io.write(line, "\n")
end
