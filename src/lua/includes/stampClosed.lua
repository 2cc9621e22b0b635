-- A reservation record that can no longer change the ledger (cancelled, or reserved and
-- fully shipped) gets `t`, the time it closed; sweepExpiredMarks drops it one dedupe horizon
-- later. Returns true when the record is closed.
local function stampClosed(record, atMs)
  if record.t == nil and (record.c == 1 or (record.r == 1 and record.sh >= record.q)) then
    record.t = atMs
  end
  return record.t ~= nil
end
