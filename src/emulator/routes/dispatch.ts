import { parseODataUrl } from '../../odata/url';
import { parsePrefer } from '../annotations';
import { parseBypass } from '../bypass';
import { badRequest } from '../errors';
import type { InProcessRequest, Reply } from '../reply';
import type { WebhookDelivery } from '../webhookDelivery';
import type { ErrorAnswers } from './answers';
import { noResource } from './answers';
import type { Service } from './context';
import { route } from './router';

const API_PREFIX = /^\/api\/data\/v9\.[0-2](\/|$)/;
const BATCH_PATH = /^\/api\/data\/v9\.[0-2]\/\$batch$/;

/** The URL of a request as received; undefined when it does not parse. */
export function requestUrl(rawUrl: string): URL | undefined {
  try {
    return new URL(rawUrl, 'http://emulator.invalid');
  } catch {
    return undefined;
  }
}

export function isWebApiPath(pathname: string): boolean {
  return API_PREFIX.test(pathname);
}

export function isBatchPath(pathname: string): boolean {
  return BATCH_PATH.test(pathname);
}

/** Dataverse accepts a trailing comma in `$select` (the Web API sample sends `$select=name,`). */
function tolerateTrailingSelectComma(rawUrl: string): string {
  return rawUrl.replace(/([?&]\$select=[^&]*?)(?:,|%2C)+(?=&|$)/gi, '$1');
}

/**
 * Answers one authenticated request, top-level or a `$batch` part (same parsing, same routes): URL and body
 * parsing, the bypass headers, then the route; errors become Dataverse answers. Never throws.
 */
export function dispatcher(
  service: Service,
  webhooks: WebhookDelivery,
  errors: ErrorAnswers,
): (request: InProcessRequest, requestId: string) => Reply {
  return (request, requestId) => {
    try {
      const { method, url: rawUrl } = request;
      const url = requestUrl(rawUrl);
      if (url === undefined) throw badRequest('Bad Request - Error in query syntax.');
      if (!isWebApiPath(url.pathname)) throw noResource(`${service.baseUrl()}${url.pathname}`);
      let body: unknown = undefined;
      const text = request.body ?? '';
      if ((method === 'POST' || method === 'PATCH' || method === 'PUT') && text.trim() !== '') {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          throw badRequest('Invalid JSON. The request body could not be read as JSON.');
        }
      }
      try {
        decodeURIComponent(url.pathname);
      } catch {
        throw badRequest('Bad Request - Error in query syntax.');
      }
      const fixedUrl = tolerateTrailingSelectComma(rawUrl);
      const parsed = parseODataUrl(fixedUrl, { templates: false, plusAsSpace: true });
      // Checked before anything runs: a bad value is a 400 that changes nothing.
      const bypass = parseBypass(request.headers);
      return webhooks.withBypass(bypass, () =>
        route(service, {
          method,
          path: url.pathname,
          rawUrl: fixedUrl,
          url: parsed,
          headers: request.headers,
          body,
          prefer: parsePrefer(request.headers.prefer),
        }),
      );
    } catch (error) {
      return errors.fromThrown(error, requestId);
    }
  };
}
