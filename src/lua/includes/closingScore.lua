-- The expiry-index score that marks a checkout hold as closing (issue 11 §3): its outcome
-- is decided and its clean-up is under way. Open holds score their expiry time (≥ 0), so
-- a closing hold sorts before every open one and is always due for the reaper.
-- RELEASING: its lines are being released; CONFIRMING: its lines stay, as plain reservations.
local function closingScore(state)
  if state == 'RELEASING' then
    return -1
  elseif state == 'CONFIRMING' then
    return -2
  end
  return nil
end
