/** Unit tests: CIDR matching and the client address behind trusted proxies (server.trusted_proxies). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CidrSet, formatIp, parseCidr, parseIp } from "../../src/util/cidr.ts";
import { clientAddressResolver } from "../../src/server/client-address.ts";

describe("CIDR ranges", () => {
  test("IPv4 ranges match their addresses, and IPv4-mapped IPv6 forms of them", () => {
    const set = new CidrSet(["10.0.0.0/8", "192.168.1.0/24", "203.0.113.7"]);
    for (const inside of ["10.1.2.3", "::ffff:10.255.0.1", "192.168.1.200", "203.0.113.7"]) assert.ok(set.contains(inside), inside);
    for (const outside of ["11.0.0.1", "192.168.2.1", "203.0.113.8", "::1", "garbage", ""]) assert.ok(!set.contains(outside), outside);
  });

  test("IPv6 ranges, zones and brackets", () => {
    const set = new CidrSet(["fd00::/8", "::1", "2001:db8:0:1::/64"]);
    for (const inside of ["fd12:3456::1", "[::1]", "::1", "fe80::1%eth0".replace("fe80", "fd00"), "2001:db8:0:1:ffff::9"]) assert.ok(set.contains(inside), inside);
    for (const outside of ["fe80::1", "2001:db8:0:2::1", "127.0.0.1", "::2"]) assert.ok(!set.contains(outside), outside);
  });

  test("prefix lengths off the byte boundary", () => {
    const set = new CidrSet(["172.16.0.0/12"]);
    assert.ok(set.contains("172.31.255.255"));
    assert.ok(!set.contains("172.32.0.0"));
    assert.ok(new CidrSet(["0.0.0.0/0"]).contains("8.8.8.8"));
    assert.ok(!new CidrSet(["0.0.0.0/0"]).contains("2001:db8::1"));
    assert.ok(new CidrSet(["::/0"]).contains("2001:db8::1"));
  });

  test("bad ranges are refused with a message naming the fix", () => {
    assert.throws(() => parseCidr("10.0.0.1/8"), /did you mean "10\.0\.0\.0\/8"/);
    assert.throws(() => parseCidr("10.0.0.0/33"), /prefix length/);
    assert.throws(() => parseCidr("example.com"), /not an IP address or CIDR range/);
    assert.throws(() => parseCidr("010.0.0.0/8"), /not an IP address/);
    assert.throws(() => parseCidr("1:2:3:4:5:6:7:8:9/64"), /not an IP address/);
  });

  test("addresses print canonically", () => {
    assert.equal(formatIp(parseIp("::ffff:127.0.0.1")!), "127.0.0.1");
    assert.equal(formatIp(parseIp("2001:0db8:0000:0000:0000:0000:0000:0001")!), "2001:db8::1");
    assert.equal(formatIp(parseIp("::")!), "::");
    assert.equal(formatIp(parseIp("1:0:0:2:0:0:0:3")!), "1:0:0:2::3");
  });
});

describe("client address resolution", () => {
  const headers = (init: Record<string, string>) => new Headers(init);

  test("without trusted proxies the peer is the client, whatever the headers say", () => {
    const resolve = clientAddressResolver([]);
    assert.equal(resolve("::ffff:127.0.0.1", headers({ "x-forwarded-for": "1.2.3.4" })), "127.0.0.1");
  });

  test("an untrusted peer's forwarding headers are ignored", () => {
    const resolve = clientAddressResolver(["10.0.0.0/8"]);
    assert.equal(resolve("198.51.100.9", headers({ "x-forwarded-for": "1.2.3.4", forwarded: "for=5.6.7.8" })), "198.51.100.9");
  });

  test("a trusted peer: the nearest untrusted hop of X-Forwarded-For, so a client's own entry cannot win", () => {
    const resolve = clientAddressResolver(["10.0.0.0/8"]);
    assert.equal(resolve("10.0.0.2", headers({ "x-forwarded-for": "1.2.3.4" })), "1.2.3.4");
    // The client wrote "6.6.6.6" itself; the proxy appended the real address.
    assert.equal(resolve("10.0.0.2", headers({ "x-forwarded-for": "6.6.6.6, 203.0.113.5, 10.0.0.9" })), "203.0.113.5");
    assert.equal(resolve("10.0.0.2", headers({ "x-forwarded-for": "203.0.113.5:5123" })), "203.0.113.5");
    // Every hop trusted: the farthest one.
    assert.equal(resolve("10.0.0.2", headers({ "x-forwarded-for": "10.9.9.9, 10.0.0.3" })), "10.9.9.9");
    // Garbage stops the walk at the last hop known.
    assert.equal(resolve("10.0.0.2", headers({ "x-forwarded-for": "1.2.3.4, unknown" })), "10.0.0.2");
    // No header: the proxy itself.
    assert.equal(resolve("10.0.0.2", headers({})), "10.0.0.2");
  });

  test("Forwarded (RFC 7239) with quoting, ports and IPv6", () => {
    const resolve = clientAddressResolver(["::1", "127.0.0.1"]);
    assert.equal(resolve("127.0.0.1", headers({ forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"' })), "2001:db8:cafe::17");
    assert.equal(resolve("::1", headers({ forwarded: 'For="198.51.100.17:8080";proto=https' })), "198.51.100.17");
    assert.equal(resolve("::1", headers({ forwarded: "for=_hidden" })), "::1");
  });
});
