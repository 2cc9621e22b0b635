// Reservation ids are `channel:order:line`. Order and line ids from channels may contain
// ":" themselves (Shopify GraphQL ids do), so each part is escaped: otherwise order "a:b"
// line "c" and order "a" line "b:c" would share an id and one would be dropped as a
// duplicate.
export function reservationId(channel: string, orderId: string, lineId: string): string {
  return [channel, orderId, lineId].map(escapePart).join(':');
}

export function parseReservationId(id: string): { channel: string; orderId: string; lineId: string } | undefined {
  const parts = id.split(':');
  if (parts.length !== 3) return undefined;
  const [channel, orderId, lineId] = parts.map((part) => decodeURIComponent(part)) as [string, string, string];
  return { channel, orderId, lineId };
}

function escapePart(part: string): string {
  return part.replace(/%/g, '%25').replace(/:/g, '%3A');
}
