# An echo upstream for TestRealUpstreams under rackup: the path as a Rack
# router reads it (PATH_INFO, unescaped) and the headers as the Rack env
# holds them (HTTP_*, '-' read as '_').
require 'json'
run lambda { |env|
  h = env.select { |k, _| k.start_with?('HTTP_') }
  path = Rack::Utils.unescape_path(env['PATH_INFO'].to_s) rescue 'INVALID'
  [200, { 'content-type' => 'application/json' },
   [JSON.generate({ 'method' => env['REQUEST_METHOD'], 'path' => path, 'headers' => h })]]
}
