package dev.geminirotator.redis;

/**
 * The Lua scripts that make each change one atomic step in Redis: compare, write, index and
 * publish together, so two instances racing on one key never leave it half-written, a cooldown
 * only moves later, and a change made without knowing a newer one (a status, the clear of a
 * cooldown, replayed after an outage) never overwrites it. Changes are ordered by a sequence
 * Redis keeps ({@link #NEXT_GEN}), never by the writers' clocks. Constants only.
 */
final class Scripts {

  private Scripts() {
  }

  /**
   * The next generation: a number that orders every published cooldown, membership and breaker
   * change. It is the server's time in microseconds, or one more than the last, so it keeps rising
   * even if Redis restarts without its data. Prepended to the scripts that use it; the sequence
   * key is their last KEYS entry.
   */
  private static final String NEXT_GEN = """
      local function nextgen()
        local t = redis.call('TIME')
        local g = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local last = tonumber(redis.call('GET', KEYS[#KEYS]) or '0')
        if last >= g then g = last + 1 end
        local s = string.format('%.0f', g)
        redis.call('SET', KEYS[#KEYS], s)
        return s
      end
      """;

  /**
   * Who wrote a hash last, for compare-and-set across instances: {@code other(f)} is the newest
   * generation another instance than {@code me} wrote there (its {@code gen} when someone else
   * wrote last, else the {@code other} kept when this instance took over), and
   * {@code owned(f, me)} the fields that record this instance as the last writer. A write based on
   * generation {@code base} may replace what is stored only when {@code other <= base}: every
   * write by another instance was known to its writer. Prepended after {@link #NEXT_GEN}.
   * {@code f} is an HMGET of gen, origin, other.
   */
  private static final String OWNER = """
      local function other(f, me)
        if f[2] == me then return tonumber(f[3] or '0') end
        return tonumber(f[1] or '0')
      end
      local function owned(f, me)
        if f[2] == me then return f[3] or '0' end
        return f[1] or '0'
      end
      """;

  /**
   * A key's status, by compare-and-set on generations (never on the writers' clocks): it replaces
   * the stored one only if no other instance wrote a status for the key after the one this write
   * was based on. A replayed write from an outage therefore never beats a newer one. Published
   * with {@code "g":generation} appended. A HEALTHY status without a deadline expires after the
   * healthy TTL, but its generation, writer and {@code other} stay in the generations hash (no
   * TTL; a removed key's entry goes with it), so a write replayed after a longer outage is still
   * compared with it: it is refused and handed a HEALTHY status.
   * KEYS: status hash, status index, removed set, generations hash, sequence.
   * ARGV: id, state, until, reason, at, base generation, origin, channel, message (open),
   * healthy TTL ms.
   * Returns {generation} when written, 0 when nothing changed (removed key, or the same status
   * written again by its writer), or the stored [state, until, reason, at, generation] when
   * another instance wrote a newer one.
   */
  static final String STATUS = NEXT_GEN + OWNER + """
      if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 0 end
      local f = redis.call('HMGET', KEYS[1], 'gen', 'origin', 'other', 'state', 'until', 'reason',
        'at')
      if f[4] then
        if other(f, ARGV[7]) > tonumber(ARGV[6]) then
          return {f[4], f[5] or '', f[6] or '', f[7] or '0', f[1] or '0'}
        end
        if f[2] == ARGV[7] and f[4] == ARGV[2] and f[5] == ARGV[3] and f[6] == ARGV[4]
            and f[7] == ARGV[5] then
          return 0
        end
      else
        -- an expired HEALTHY status: its generation outlives it
        local kept = redis.call('HGET', KEYS[4], ARGV[1])
        if kept then
          local g, o, x = string.match(kept, '^(%d+) (%S*) (%d+)$')
          if g then
            f[1] = g
            f[2] = o
            f[3] = x
            if other(f, ARGV[7]) > tonumber(ARGV[6]) then
              return {'HEALTHY', '', '', '0', g}
            end
          end
        end
      end
      local gen = nextgen()
      local was = owned(f, ARGV[7])
      redis.call('HSET', KEYS[1], 'state', ARGV[2], 'until', ARGV[3], 'reason', ARGV[4],
        'at', ARGV[5], 'gen', gen, 'origin', ARGV[7], 'other', was)
      redis.call('HSET', KEYS[4], ARGV[1], gen .. ' ' .. ARGV[7] .. ' ' .. was)
      if ARGV[2] == 'HEALTHY' and ARGV[3] == '' then
        redis.call('PEXPIRE', KEYS[1], ARGV[10])
      else
        redis.call('PERSIST', KEYS[1])
      end
      redis.call('SADD', KEYS[2], ARGV[1])
      redis.call('PUBLISH', ARGV[8], ARGV[9] .. gen .. '}')
      return {gen}
      """;

  /**
   * A (project, model) cooldown: optionally clear it first, then move it later (never earlier).
   * The clear is skipped when another instance set the cooldown after the generation it was based
   * on ({@link #OWNER}): a reset queued during an outage never wipes a cooldown set meanwhile.
   * A clear keeps the hash as a tombstone ({@code cleared=1}) until the cleared cooldown would
   * have ended, so instances that missed the clear learn it when they resynchronize. Messages are
   * published with {@code "g":generation} appended.
   * KEYS: cooldown hash, cooldown index, sequence.
   * ARGV: project, model, until ms (0: none), clear first (1/0), index member, channel,
   * clear message (open), set message (open), origin, base generation of the clear. Ended
   * entries leave the index when the store trims it (every few seconds, and on load).
   * Returns {generation} when something changed, 0 when nothing did, or {until, generation} of
   * the stored cooldown when it ends later than the one asked for, or when it stands because
   * the clear was skipped.
   */
  static final String COOLDOWN = NEXT_GEN + OWNER + """
      local f = redis.call('HMGET', KEYS[1], 'gen', 'origin', 'other', 'cleared', 'until')
      local live = f[4] == '0'
      local mine = owned(f, ARGV[9])
      local gen = nil
      local kept = false
      if ARGV[4] == '1' and live then
        if other(f, ARGV[9]) > tonumber(ARGV[10]) then
          kept = true
        else
          gen = nextgen()
          redis.call('HSET', KEYS[1], 'cleared', '1', 'gen', gen, 'origin', ARGV[9],
            'other', mine)
          redis.call('PUBLISH', ARGV[6], ARGV[7] .. gen .. '}')
          live = false
        end
      end
      local target = tonumber(ARGV[3])
      local cur = 0
      if live then cur = tonumber(f[5]) end
      if target > 0 and target > cur then
        gen = nextgen()
        redis.call('HSET', KEYS[1], 'project', ARGV[1], 'model', ARGV[2], 'until', ARGV[3],
          'cleared', '0', 'gen', gen, 'origin', ARGV[9], 'other', mine)
        redis.call('PEXPIREAT', KEYS[1], ARGV[3])
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
        redis.call('PUBLISH', ARGV[6], ARGV[8] .. gen .. '}')
        return {gen}
      end
      if gen == nil and live and (kept or target < cur) then
        return {tostring(cur), redis.call('HGET', KEYS[1], 'gen') or '0'}
      end
      if gen then return {gen} end
      return 0
      """;

  /**
   * A key added at run time. KEYS: added hash, removed set, sequence.
   * ARGV: id, JSON, channel, message (open). Returns {generation} when something changed, else 0.
   */
  static final String ADDED = NEXT_GEN + """
      local wasRemoved = redis.call('SREM', KEYS[2], ARGV[1])
      local cur = redis.call('HGET', KEYS[1], ARGV[1])
      if cur == ARGV[2] and wasRemoved == 0 then return 0 end
      redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
      local gen = nextgen()
      redis.call('PUBLISH', ARGV[3], ARGV[4] .. gen .. '}')
      return {gen}
      """;

  /**
   * A key removed at run time; its status, status generation and health go with it.
   * KEYS: added hash, removed set, status hash, status index, health hash, generations hash,
   * sequence.
   * ARGV: id, channel, message (open). Returns {generation} when something changed, else 0.
   */
  static final String REMOVED = NEXT_GEN + """
      local a = redis.call('HDEL', KEYS[1], ARGV[1])
      local r = redis.call('SADD', KEYS[2], ARGV[1])
      redis.call('DEL', KEYS[3])
      redis.call('SREM', KEYS[4], ARGV[1])
      redis.call('HDEL', KEYS[5], ARGV[1])
      redis.call('HDEL', KEYS[6], ARGV[1])
      if a == 1 or r == 1 then
        local gen = nextgen()
        redis.call('PUBLISH', ARGV[2], ARGV[3] .. gen .. '}')
        return {gen}
      end
      return 0
      """;

  /**
   * A breaker's state. KEYS: breaker hash, breaker index, sequence.
   * ARGV: name, state, until, channel, message (open). Returns {generation} when something
   * changed, else 0.
   */
  static final String BREAKER = NEXT_GEN + """
      if redis.call('HGET', KEYS[1], 'state') == ARGV[2]
          and redis.call('HGET', KEYS[1], 'until') == ARGV[3] then
        return 0
      end
      local gen = nextgen()
      redis.call('HSET', KEYS[1], 'name', ARGV[1], 'state', ARGV[2], 'until', ARGV[3], 'gen', gen)
      redis.call('SADD', KEYS[2], ARGV[1])
      redis.call('PUBLISH', ARGV[4], ARGV[5] .. gen .. '}')
      return {gen}
      """;

  /**
   * Adds to a fixed window's counter: INCRBY, and PEXPIRE when the key is new (or its TTL is
   * missing). KEYS: counter. ARGV: TTL ms, delta. Returns the total.
   */
  static final String COUNTER = """
      local c = redis.call('INCRBY', KEYS[1], ARGV[2])
      if c == 1 or redis.call('PTTL', KEYS[1]) < 0 then
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
      end
      return c
      """;
}
