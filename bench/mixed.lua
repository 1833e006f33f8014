-- wrk script for bench/proxy-bench.sh --mixed: cycles through a fixed list of realistic, benign
-- requests of a web shop / SaaS API (GET with query strings, POST JSON, POST form bodies).
--
--   wrk -c 32 -d 10s -s bench/mixed.lua http://127.0.0.1:PORT/            benchmark
--   wrk -t 1 -c 1 -d 1s -s bench/mixed.lua http://127.0.0.1:PORT/ -- check
--        pre-check: prints "mixed-check: ..." lines naming every request answered non-2xx
--
-- All requests must pass nginx + ModSecurity + OWASP CRS 3.3 at paranoia level 1 (and any
-- sensible WAF): a blocked one would make that target's numbers meaningless. Only methods CRS
-- allows by default (GET, HEAD, POST, OPTIONS) are used. The requests are written for this
-- benchmark; nothing here comes from a test corpus.

local UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " ..
           "Chrome/124.0.0.0 Safari/537.36"
local COOKIE = "sid=4f1c9e2a7b3d4e5f8a6b0c1d2e3f4a5b; lang=en; cart=3"

local JSON = "application/json"
local FORM = "application/x-www-form-urlencoded"

-- { method, path, body type (nil, JSON or FORM), body }
local list = {
  {"GET", "/api/v1/products?category=shoes&size=42&sort=price_asc&page=2"},
  {"GET", "/search?q=running+shoes+for+women&lang=en-US&in_stock=1"},
  {"POST", "/api/v1/cart/items", JSON,
   '{"product_id":48213,"quantity":2,"options":{"size":"M","color":"navy"}}'},
  {"GET", "/api/v1/users/1842/orders?status=shipped&limit=20&offset=40"},
  {"POST", "/login", FORM,
   "username=alice.martin%40example.com&password=correct-horse-battery-staple&remember_me=on"},
  {"GET", "/blog/2024/03/how-we-scaled-our-checkout?utm_source=newsletter&utm_medium=email" ..
          "&utm_campaign=spring_sale"},
  {"POST", "/api/v1/events", JSON,
   '{"event":"page_view","ts":1716384000123,"page":"/pricing","referrer":"https://www.google.com/",' ..
   '"viewport":{"w":1440,"h":900},"session":"a81f3c"}'},
  {"GET", "/api/v2/search?q=caf%C3%A9%20au%20lait&brand=acme&price_min=10&price_max=50&currency=EUR"},
  {"POST", "/contact", FORM,
   "name=Jane+Doe&email=jane.doe%40example.org&subject=Question+about+my+order" ..
   "&message=Hello%2C+my+order+number+11872+has+not+arrived+yet.+Could+you+please+check+the+status%3F+Thanks"},
  {"GET", "/maps/tiles?lat=48.8566&lng=2.3522&zoom=14&format=png&scale=2"},
  {"POST", "/api/v1/orders", JSON,
   '{"items":[{"sku":"TSH-RED-M","qty":1},{"sku":"MUG-WHT","qty":2}],"shipping":{"name":"Marie Dupont",' ..
   '"street":"12 Rue de la Paix","city":"Paris","zip":"75002","country":"FR"},"coupon":"SPRING10"}'},
  {"GET", "/api/reports/export?from=2024-01-01&to=2024-03-31&format=csv&tz=Europe%2FBerlin"},
  {"POST", "/newsletter/subscribe", FORM,
   "email=bob.smith%40example.net&lists=weekly&lists=product-updates&consent=true"},
  {"GET", "/api/v1/items?ids=101,102,103,205&fields=name,price,stock"},
  {"POST", "/api/v1/comments", JSON,
   '{"post_id":912,"author":"Sam","body":"Great article! The part about caching was really ' ..
   'helpful, thanks for sharing."}'},
  {"GET", "/account/settings?tab=notifications&saved=1"},
  {"POST", "/checkout/shipping", FORM,
   "first_name=Marie&last_name=Dupont&address1=12+Rue+de+la+Paix&city=Paris&postal_code=75002" ..
   "&country=FR&phone=%2B33+1+23+45+67+89&delivery=standard"},
  {"GET", "/api/v1/notifications?unread=true&since=2024-05-21T08%3A30%3A00Z&limit=50"},
  {"POST", "/api/v1/profile", JSON,
   '{"display_name":"Alice M.","timezone":"America/New_York","locale":"en-US",' ..
   '"preferences":{"newsletter":false,"dark_mode":true}}'},
  {"GET", "/api/v1/products/48213/reviews?rating_gte=4&sort=-created_at&page=1"},
}

requests = {}     -- pre-formatted request strings (per thread)
first = 0         -- this thread's start offset (set by setup)
calls = 0         -- request() calls so far
check = false

local function headers_for(entry)
  local h = {
    ["User-Agent"] = UA,
    ["Accept-Language"] = "en-US,en;q=0.9",
    ["Cookie"] = COOKIE,
  }
  if entry[1] == "GET" and not entry[2]:find("^/api/") then
    h["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
  else
    h["Accept"] = "application/json"
  end
  if entry[3] then
    h["Content-Type"] = entry[3] .. "; charset=utf-8"
    h["Origin"] = "https://shop.example.com"
  end
  return h
end

-- setup/done run in wrk's main Lua state; init/request/response in each thread's own state.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("first", (#threads - 1) * 7)   -- threads start at different requests
end

function init(args)
  for i, e in ipairs(list) do
    requests[i] = wrk.format(e[1], e[2], headers_for(e), e[4])
  end
  if args[1] == "check" then
    check = true
    response = check_response
  end
end

function request()
  local i = (first + calls) % #requests + 1
  calls = calls + 1
  return requests[i]
end

-- check mode: with one connection, the n-th response answers the n-th request sent. wrk calls
-- request() once more than it sends (to look for pipelining) before the first send, so the
-- number of calls seen at the first response fixes the offset.
nresp = 0
offset = nil
bad = {}          -- request index -> "status" of its first non-2xx answer
nbad = 0

function check_response(status, headers, body)
  if offset == nil then offset = calls - 1 end
  local i = (first + offset + nresp) % #requests + 1
  nresp = nresp + 1
  if status < 200 or status > 299 then
    nbad = nbad + 1
    if bad[i] == nil then bad[i] = status end
  end
end

function done(summary, latency, reqs)
  for _, t in ipairs(threads) do
    if t:get("check") then
      local b = t:get("bad")
      io.write(string.format("mixed-check: %d responses to %d different requests, %d non-2xx\n",
                             t:get("nresp"), #list, t:get("nbad")))
      for i, e in ipairs(list) do
        if b[i] ~= nil then
          io.write(string.format("mixed-check: status %d for #%d %s %s\n", b[i], i, e[1], e[2]))
        end
      end
    end
  end
end
