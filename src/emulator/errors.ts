/**
 * Errors the emulator answers with, shaped as Dataverse sends them: `{"error":{"code":"0x...","message":"..."}}`.
 * Codes come from the wire reference (§12) and Microsoft's published captures; where the reference marks a
 * code UNVERIFIED, the nearest documented neighbour is used and named here once.
 */
export class DataverseHttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'DataverseHttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export const ErrorCodes = {
  objectDoesNotExist: '0x80040217',
  resourceNotFoundForSegment: '0x8006088a',
  /** The OData layer's code for malformed requests and queries (§1.5, §4.4). */
  queryShape: '0x80060888',
  /** Dataverse answers "Could not find a property named ..." on query options with an empty-ish code. */
  propertyNotFound: '0x0',
  validationMaxLength: '0x80044331',
  /** "A validation error occurred. The value ... is outside the valid range." */
  validationOutOfRange: '0x8004431a',
  /** SystemRequired column missing or set to null. UNVERIFIED code; the documented neighbour of 0x80044331. */
  validationRequired: '0x80040203',
  concurrencyVersionMismatch: '0x80060882',
  duplicateRecord: '0x80040237',
  duplicateRecordEntityKey: '0x80060892',
  notSupported: '0x80040315',
  notImplemented: '0x80040219',
  accessTokenExpired: '0x8005F101',
  requestTooLarge: '0x80040216',
} as const;

export function notFoundSegment(segment: string): DataverseHttpError {
  return new DataverseHttpError(
    404,
    ErrorCodes.resourceNotFoundForSegment,
    `Resource not found for the segment '${segment}'.`,
  );
}

export function recordNotFound(logicalName: string, id: string): DataverseHttpError {
  return new DataverseHttpError(
    404,
    ErrorCodes.objectDoesNotExist,
    `Entity '${logicalName}' With Id = ${id} Does Not Exist`,
  );
}

export function badRequest(message: string, code: string = ErrorCodes.queryShape): DataverseHttpError {
  return new DataverseHttpError(400, code, message);
}

export function methodNotAllowed(method: string, allowed: readonly string[]): DataverseHttpError {
  // Dataverse (ASP.NET Web API) answers an unroutable method with an empty code and this sentence.
  return new DataverseHttpError(405, '', `The requested resource does not support http method '${method}'.`, {
    Allow: allowed.join(', '),
  });
}

export function errorBody(error: DataverseHttpError): string {
  return JSON.stringify({ error: { code: error.code, message: error.message } });
}
