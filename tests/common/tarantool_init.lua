-- Init script of the Tarantool test server (tests/common/tarantool_server.py).
-- FERRULE_TNT_LISTEN is the URI to listen on; the work directory is the current one.
local fiber = require('fiber')

-- Listening starts after the schema is set up, so a greeting means the server is ready.
box.cfg{
    memtx_memory = 256 * 1024 * 1024,
    log_level = 5,
    readahead = 1024 * 1024,
    net_msg_max = 4096,
}

box.once('ferrule_init', function()
    box.schema.user.create('ferrule', {password = 'ferrule_pw'})
    box.schema.user.grant('ferrule', 'super')
    box.schema.user.grant('guest', 'read,write,execute', 'universe')

    local tester = box.schema.space.create('tester', {format = {
        {name = 'id', type = 'unsigned'},
        {name = 'name', type = 'string', is_nullable = true},
        {name = 'value', type = 'any', is_nullable = true},
    }})
    tester:create_index('primary', {parts = {1, 'unsigned'}})
    tester:create_index('by_name', {parts = {2, 'string'}, unique = false})

    local bare = box.schema.space.create('noformat')
    bare:create_index('primary', {parts = {1, 'unsigned'}})

    local calls = box.schema.space.create('calls', {format = {
        {name = 'key', type = 'string'},
        {name = 'count', type = 'unsigned'},
    }})
    calls:create_index('primary', {parts = {1, 'string'}})

    local bench = box.schema.space.create('bench', {format = {
        {name = 'id', type = 'unsigned'},
        {name = 'name', type = 'string'},
        {name = 'n', type = 'unsigned'},
    }})
    bench:create_index('primary', {parts = {1, 'unsigned'}})
    local written = box.schema.space.create('bench_w', {format = {
        {name = 'id', type = 'unsigned'},
        {name = 'name', type = 'string'},
        {name = 'n', type = 'unsigned'},
    }})
    written:create_index('primary', {parts = {1, 'unsigned'}})
    for i = 1, 1000 do
        bench:insert({i, 'name' .. i, i * 2})
    end
end)

box.cfg{listen = os.getenv('FERRULE_TNT_LISTEN')}

-- Functions the tests and benchmarks call (global: any user with execute on universe).
function echo(...)
    return ...
end

function push_messages(n)
    for i = 1, n do
        box.session.push({i, 'message ' .. i})
    end
    return 'pushed ' .. n
end

function sleep_for(seconds, value)
    fiber.sleep(seconds)
    return value
end

-- Non-idempotent: counts how many times it ran for `key`.
function count_call(key, pause)
    box.space.calls:upsert({key, 1}, {{'+', 2, 1}})
    if pause then
        fiber.sleep(pause)
    end
    return box.space.calls:get(key)[2]
end

function raise_error(message)
    box.error({code = 42, reason = message})
end

function bench_call(a)
    return a
end
