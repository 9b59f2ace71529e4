-- fmhost.hash: the keyed digest validate.checksum uses when both sides are
-- hashed in fmhost, checked against the published SipHash test vectors
-- (key 00 01 .. 0f, message 00 01 .. of each length).
local hash = require 'fmhost.hash'

local function bytes(n)
  local t = {}
  for i = 0, n - 1 do t[#t + 1] = string.char(i) end
  return table.concat(t)
end

local KEY = bytes(16)
local function hex(h) return string.format('%016x', h) end

describe('fmhost.hash', function()
  it('computes SipHash-2-4 as the paper does, short and multi-block messages', function()
    assert.are.equal('726fdb47dd0e0e31', hex(hash.siphash24(KEY, '')))
    assert.are.equal('93f5f5799a932462', hex(hash.siphash24(KEY, bytes(8))))
    assert.are.equal('a129ca6149be45e5', hex(hash.siphash24(KEY, bytes(15))))
    assert.are.equal('958a324ceb064572', hex(hash.siphash24(KEY, bytes(63))))
  end)

  it('computes SipHash-1-3, the validator\'s digest, as the reference does', function()
    assert.are.equal('abac0158050fc4dc', hex(hash.siphash13(KEY, '')))
    assert.are.equal('c9f49bf37d57ca93', hex(hash.siphash13(KEY, bytes(1))))
    assert.are.equal('d1fba762150c532c', hex(hash.siphash13(string.rep('\0', 16), '')))
  end)

  it('depends on the key and on every byte, the length included', function()
    local other = 'fedcba9876543210'
    assert.are_not.equal(hash.siphash13(KEY, 'row'), hash.siphash13(other, 'row'))
    assert.are_not.equal(hash.siphash13(KEY, 'row'), hash.siphash13(KEY, 'roW'))
    assert.are_not.equal(hash.siphash13(KEY, 'row'), hash.siphash13(KEY, 'row\0'))
  end)

  it('refuses a key that is not 16 bytes, naming its length', function()
    local ok, err = pcall(hash.siphash13, 'short', 'x')
    assert.is_false(ok)
    assert.matches('the key must be 16 bytes, not 5', err)
  end)
end)
