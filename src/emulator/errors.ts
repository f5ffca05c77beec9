/**
 * Errors the emulator answers with, shaped as Dataverse sends them: `{"error":{"code":"0x...","message":"..."}}`.
 * Codes come from the wire reference (§12) and Microsoft's published captures; where the reference marks a
 * code UNVERIFIED, the nearest documented neighbour is used and named here once.
 */
export class DataverseHttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Set when the code is a guess (see GUESSED_CODES), so that `errorCodes` can override it. */
  readonly guess: GuessedCode | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
    guess?: GuessedCode,
  ) {
    super(message);
    this.name = 'DataverseHttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.guess = guess;
  }
}

/**
 * Every error code the emulator answers that the wire reference marks UNVERIFIED or does not list. Each
 * is the documented neighbour; `EmulatorOptions.errorCodes` replaces any of them by name.
 */
export const GUESSED_CODES = {
  /** `$skip`, `$search`, `$format`, unknown options (reference §1.5: 400 with the query-shape code). */
  unsupportedQueryOption: '0x80060888',
  /** Syntax errors in `$filter`, `$orderby`, `$select`, `$expand`, `$apply` (OData layer, §4.4). */
  querySyntax: '0x80060888',
  /** Comparing values of different types (`name eq 1`); ODataLib wording, OData-layer code. */
  incompatibleTypes: '0x80060888',
  /** A query function or canonical function the emulator (or Dataverse) does not evaluate. */
  functionNotSupported: '0x80040315',
  /** `$expand` beyond Dataverse's limits (more than 15 options, `$top` in nested expansions). */
  expandLimit: '0x80060888',
  /** `$apply` over more than 50,000 rows (§4.5 documents the code, not the HTTP status). */
  aggregateLimit: '0x8004E023',
  /** Malformed or unsupported FetchXML. */
  fetchXml: '0x80040203',
  /** A parameter or value of a query function that does not fit the column. */
  invalidArgument: '0x80040203',
  /** A `$batch` body that is not multipart/mixed as §10.1 describes (the reference gives no code). */
  batchMalformed: '0x80060888',
  /** More than 1,000 requests in one `$batch` (the limit is documented, its error is not). */
  batchTooLarge: '0x80060888',
  /** `$n` naming no earlier request of the change set; the message is documented (§10.1), the code is not. */
  batchContentId: '0x80060888',
  /**
   * A table without change tracking asked for it. The code and message are Dataverse's
   * `ChangeTrackingNotEnabledForEntity`; the HTTP status (400) is the guess.
   */
  changeTrackingDisabled: '0x80072491',
  /** `$filter`, `$orderby`, `$expand` or `$top` with change tracking (§11: message documented, code not). */
  changeTrackingOption: '0x80060888',
  /** A `$deltatoken` this emulator did not issue or cannot read. */
  deltaToken: '0x80060888',
  /**
   * A service endpoint whose columns do not fit its contract (webhook without url or auth, queue without
   * path, …). Dataverse's validation code, the neighbour of `validationRequired`.
   */
  serviceEndpointInvalid: '0x80040203',
  /**
   * A step outside the public stages (documented: `OnlyStepInPredefinedStagesCanBeModified`), and an
   * asynchronous step outside post-operation, whose code the reference leaves UNVERIFIED.
   */
  stepStage: '0x80044184',
  /**
   * A synchronous step whose webhook failed (non-2xx, unreachable, timeout): the write is rolled back. The
   * code is the plug-in failure (`InvalidPluginExecutionException`, §12.2); the exact service-endpoint code is not documented.
   */
  webhookFailed: '0x80040265',
  /**
   * `$select`, FetchXML `<attribute>` or a single-property GET naming a write-only column (`IsValidForRead`
   * false). Message and code as real Dataverse reports it in community captures ("Retrieve can only return
   * columns that are valid for read. Column : dummyfilename. Entity : annotation", 0x80041a08); the HTTP
   * status is the guess.
   */
  columnNotValidForRead: '0x80041a08',
  /**
   * A write-only column in `$filter`, `$orderby`, `$apply`, a query function or a FetchXML condition, order or
   * link. What Dataverse answers is not documented; the emulator refuses rather than let a query probe the
   * value, with the invalid-argument code.
   */
  conditionNotValidForRead: '0x80040203',
  /**
   * A bad `MSCRM.BypassCustomPluginExecution`, `MSCRM.BypassBusinessLogicExecution` or
   * `MSCRM.BypassBusinessLogicExecutionStepIds` value, or too many step ids. Neither code nor message is
   * documented; the invalid-argument code.
   */
  bypassInvalid: '0x80040203',
  /**
   * A query past one of the emulator's resource limits (src/emulator/limits.ts): terms, list values, sort keys,
   * path length. Dataverse's own ceilings there are SQL Server's and undocumented; the OData layer's code.
   */
  queryLimit: '0x80060888',
  /** A request body nested deeper than ODataLib's reader allows (`MaxNestingDepth`); the OData layer's code. */
  bodyLimit: '0x80060888',
  /**
   * An UpdateMultiple or UpsertMultiple target without a key (primary id column or `@odata.id`). The bulk
   * operation docs show keyed targets only; what Dataverse answers without one is not documented.
   */
  bulkTargetKey: '0x80040203',
  /**
   * A message the table does not take: Create, Update or Delete of `activitypointer`, whose reference page lists
   * Retrieve and RetrieveMultiple only. The message is Dataverse's as quoted in public issue threads; the code is
   * not documented.
   */
  messageNotSupported: '0x80040800',
  /**
   * A write to an N:N relationship's intersect table (`accountleadscollection`): Dataverse documents these as
   * read-only, written through associate and disassociate; its answer is not documented.
   */
  intersectReadOnly: '0x80040800',
} as const;

export type GuessedCode = keyof typeof GUESSED_CODES;

export function guessed(status: number, name: GuessedCode, message: string): DataverseHttpError {
  return new DataverseHttpError(status, GUESSED_CODES[name], message, {}, name);
}

export function propertyNotFound(logicalName: string, name: string): DataverseHttpError {
  return new DataverseHttpError(
    400,
    ErrorCodes.propertyNotFound,
    `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${logicalName}'.`,
  );
}

/** A write-only column asked for in a result: `$select`, FetchXML `<attribute>`, `GET …/<column>`. */
export function notValidForRead(logicalName: string, column: string): DataverseHttpError {
  return guessed(
    400,
    'columnNotValidForRead',
    `Retrieve can only return columns that are valid for read. Column : ${column}. Entity : ${logicalName}`,
  );
}

/** A write-only column used to filter, sort, group, aggregate or join. */
export function notValidForCondition(logicalName: string, column: string): DataverseHttpError {
  return guessed(
    400,
    'conditionNotValidForRead',
    `The column '${column}' of '${logicalName}' is not valid for read, so it cannot be used to filter, sort, group or join.`,
  );
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
  /**
   * `InvalidCharactersInField` (-2147220872): a string or memo value with a character XML cannot hold
   * (XmlConvert.VerifyXmlChars), as Microsoft's "Manage invalid characters" page documents.
   */
  invalidCharactersInField: '0x80040278',
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
