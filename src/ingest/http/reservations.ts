// The synchronous reservation API for a merchant's own checkout (bearer token):
//   POST   /v1/reservations                     hold stock for a TTL (201, or 409 when short)
//   POST   /v1/reservations/:orderId/confirm    the checkout completed (200, 410 when expired)
//   DELETE /v1/reservations/:orderId            the checkout was abandoned (200, 404)
// The ledger write is itself durable in Redis before the answer (invariant I2).
import { z } from 'zod';
import { StockguardError } from '../../errors.ts';
import type { CheckoutHolds } from '../../ledger/holds.ts';
import type { HttpRequest, Route } from './server.ts';
import { verifyBearer } from './signatures.ts';
import { parseJsonLossless } from '../../domain/losslessJson.ts';
import { assertSku } from '../../domain/validate.ts';

// Every rule the ledger would apply later is checked here, before CheckoutHolds writes the
// hold record: a request the ledger refuses after that write would replace the lines of a
// hold already open under the same orderId (issue 7).
const HoldSku = z.string().superRefine((sku, context) => {
  try {
    assertSku(sku);
  } catch {
    context.addIssue({ code: 'custom', message: 'must be 1 to 200 characters without "{", "}", control characters or surrounding spaces' });
  }
});
const HoldRequest = z.object({
  orderId: z.string().min(1).max(256),
  ttlSeconds: z.number().int().min(1).max(86_400).default(900),
  lines: z
    .array(z.object({ lineId: z.string().min(1).max(256), sku: HoldSku, quantity: z.number().int().min(1).max(1_000_000_000) }))
    .min(1)
    .max(250)
    .superRefine((lines, context) => {
      const first = new Map<string, number>();
      lines.forEach((line, index) => {
        const seen = first.get(line.lineId);
        if (seen === undefined) first.set(line.lineId, index);
        else context.addIssue({ code: 'custom', path: [index, 'lineId'], message: `repeats lines.${seen}.lineId; every line needs its own id` });
      });
    }),
});

export interface ReservationRoutesOptions {
  holds: CheckoutHolds;
  apiToken: string;
}

export function reservationRoutes(options: ReservationRoutesOptions): Route[] {
  const authorise = (request: HttpRequest) => {
    const header = request.headers.authorization;
    if (!verifyBearer(Array.isArray(header) ? header[0] : header, options.apiToken)) {
      throw new StockguardError('STOCKGUARD_E_UNAUTHORIZED', 'the Authorization header must be "Bearer <STOCKGUARD_API_TOKEN>"');
    }
  };
  return [
    {
      method: 'POST',
      path: '/v1/reservations',
      async handler(request) {
        authorise(request);
        let body: unknown;
        try {
          body = parseJsonLossless(request.rawBody.toString('utf8'));
        } catch (error) {
          throw new StockguardError('STOCKGUARD_E_BAD_JSON', error instanceof Error ? error.message : String(error));
        }
        const parsed = HoldRequest.safeParse(body);
        if (!parsed.success) {
          const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
          throw new StockguardError('STOCKGUARD_E_BAD_PAYLOAD', problems.join('; '), { details: { problems } });
        }
        const result = await options.holds.hold(parsed.data.orderId, parsed.data.lines, parsed.data.ttlSeconds);
        const lines = result.lines.map(({ lineId, sku, status, held, shortfall }) => ({ lineId, sku, status, held, shortfall }));
        if (!result.held) return { status: 409, body: { held: false, orderId: result.orderId, lines } };
        return { status: 201, body: { held: true, orderId: result.orderId, expiresAt: new Date(result.expiresAtMs).toISOString(), lines } };
      },
    },
    {
      method: 'POST',
      path: '/v1/reservations/:orderId/confirm',
      async handler(request) {
        authorise(request);
        const confirmed = await options.holds.confirm(request.params.orderId!);
        if (!confirmed) return { status: 410, body: { confirmed: false, reason: 'no open hold: it expired, was cancelled, or never existed' } };
        return { status: 200, body: { confirmed: true } };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/reservations/:orderId',
      async handler(request) {
        authorise(request);
        const cancelled = await options.holds.cancel(request.params.orderId!);
        if (!cancelled) return { status: 404, body: { cancelled: false, reason: 'no open hold for this order' } };
        return { status: 200, body: { cancelled: true } };
      },
    },
  ];
}
