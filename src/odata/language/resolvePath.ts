/**
 * What the resource path of a URL addresses: the one resolver behind completion, diagnostics and
 * hover, so that they never disagree on the scope of a request. It walks the parsed path (entity
 * set or function, keys, navigation properties), records what each name refers to and reports what
 * Dataverse would refuse.
 */
import type { MetadataIndex } from '../../metadata/lookup';
import type { EntitySet, EntityType, NavigationProperty, Operation, Property } from '../../metadata/model';
import type { TextSpan } from '../document/syntax';
import type { NameSegment, ResourcePath, SegmentArguments } from '../url/syntax';
import { didYouMeanText, replaceFixes } from './messages';
import type { LanguageDiagnostic } from './types';
import { mismatch, valueTypeOfProperty } from './valueTypes';

export type Reference =
  | {
      readonly kind: 'entitySet';
      readonly span: TextSpan;
      readonly entitySet: EntitySet;
      readonly entityType: EntityType | undefined;
    }
  | { readonly kind: 'operation'; readonly span: TextSpan; readonly operations: readonly Operation[] }
  | { readonly kind: 'property'; readonly span: TextSpan; readonly owner: EntityType; readonly property: Property }
  | {
      readonly kind: 'navigation';
      readonly span: TextSpan;
      readonly owner: EntityType;
      readonly navigation: NavigationProperty;
      readonly target: EntityType | undefined;
    }
  | { readonly kind: 'queryFunction'; readonly span: TextSpan; readonly name: string }
  | { readonly kind: 'function'; readonly span: TextSpan; readonly name: string };

export interface ResolvedPath {
  /** The entity set the path starts from, when it is one. */
  readonly entitySet: EntitySet | undefined;
  /** The entity type the query options and body apply to; undefined when unknown or not an entity. */
  readonly scope: EntityType | undefined;
  /** True when the path addresses one record (a key, a single-valued navigation) rather than a collection. */
  readonly single: boolean;
  readonly references: readonly Reference[];
  readonly diagnostics: readonly LanguageDiagnostic[];
}

/**
 * The entity type of an operation's result and whether it is a collection: `Collection(mscrm.dependency)`
 * is a collection of `dependency`, which query options apply to like an entity set's rows ("A collection
 * returned by a function", https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-data-web-api).
 */
function returnScope(
  index: MetadataIndex,
  returnType: string | undefined,
): { type: EntityType | undefined; single: boolean } {
  if (returnType === undefined) return { type: undefined, single: true };
  const collection = /^Collection\((.*)\)$/.exec(returnType);
  return collection
    ? { type: index.entityType(collection[1]!), single: false }
    : { type: index.entityType(returnType), single: true };
}

/**
 * Resolves `path` against the metadata. Spans in the result are those of the path shifted by `shift`
 * (the offset of the URL in its document). Quiet where it cannot tell: past a cast, a bound operation
 * or a system segment (`$count`, `$ref`, `$value`) there is no scope.
 */
export function resolvePath(index: MetadataIndex, path: ResourcePath, shift = 0): ResolvedPath {
  return new PathResolver(index, shift).resolve(path);
}

class PathResolver {
  private readonly references: Reference[] = [];
  private readonly diagnostics: LanguageDiagnostic[] = [];

  constructor(
    private readonly index: MetadataIndex,
    private readonly shift: number,
  ) {}

  private at(span: TextSpan): TextSpan {
    return { start: span.start + this.shift, end: span.end + this.shift };
  }

  private error(code: string, message: string, span: TextSpan, suggestions: readonly string[] = []): void {
    this.diagnostics.push({ code, message, severity: 'error', span, fixes: replaceFixes(span, suggestions) });
  }

  private result(entitySet: EntitySet | undefined, scope: EntityType | undefined, single: boolean): ResolvedPath {
    return { entitySet, scope, single, references: this.references, diagnostics: this.diagnostics };
  }

  resolve(path: ResourcePath): ResolvedPath {
    const index = this.index;
    let entitySet: EntitySet | undefined;
    let scope: EntityType | undefined;
    let single = false;
    for (const [i, segment] of path.segments.entries()) {
      if (segment.kind === 'system') {
        // `$batch`, `$metadata`, `$1` (Content-ID), `$ref`, `$count`, `$value`: nothing to resolve past them.
        const addressesRows = segment.name !== '$count' && segment.name !== '$ref' && segment.name !== '$value';
        return this.result(entitySet, i > 0 && addressesRows ? scope : undefined, single);
      }
      if (i === 0) {
        const found = index.findEntitySet(segment.name);
        if (found.match && !found.caseMismatch) {
          entitySet = found.match;
          scope = index.entityTypeOfSet(found.match);
          single = segment.args !== undefined;
          this.references.push({
            kind: 'entitySet',
            span: this.at(segment.nameSpan),
            entitySet: found.match,
            entityType: scope,
          });
          if (scope && segment.args) this.key(scope, segment.args);
          continue;
        }
        const operations = index.model.operations.get(segment.name)?.filter((o) => !o.bound);
        if (operations && operations.length > 0) {
          this.references.push({ kind: 'operation', span: this.at(segment.nameSpan), operations });
          ({ type: scope, single } = returnScope(index, operations[0]!.returnType));
          continue;
        }
        const span = this.at(segment.nameSpan);
        if (found.match) {
          this.error(
            'unknownEntitySet',
            `Names are case-sensitive: '${found.match.name}', not '${segment.name}'.`,
            span,
            [found.match.name],
          );
        } else {
          this.error(
            'unknownEntitySet',
            `Unknown entity set '${segment.name}'.${didYouMeanText(found.suggestions)}`,
            span,
            found.suggestions,
          );
        }
        return this.result(undefined, undefined, single);
      }
      if (!scope) return this.result(entitySet, undefined, single);
      if (segment.qualified) {
        // A cast or a bound operation: resolve its operation when it is one, and stop checking past it.
        const local = index.localName(segment.name);
        const operations = local === undefined ? undefined : index.model.operations.get(local);
        if (operations) this.references.push({ kind: 'operation', span: this.at(segment.nameSpan), operations });
        return this.result(entitySet, undefined, single);
      }
      const next = this.member(scope, segment);
      if (next === undefined) return this.result(entitySet, undefined, single);
      if (next === 'property') return this.result(entitySet, undefined, true);
      const navigation = next.navigation;
      if (navigation.collection && next.target && segment.args) this.key(next.target, segment.args);
      scope = next.target;
      single = !navigation.collection || segment.args !== undefined;
    }
    return this.result(entitySet, scope, single);
  }

  /** A segment after the first: a navigation property (the new scope) or a column (the end of the path). */
  private member(
    scope: EntityType,
    segment: NameSegment,
  ): { navigation: NavigationProperty; target: EntityType | undefined } | 'property' | undefined {
    const found = this.index.findMemberOf(scope, segment.name);
    const span = this.at(segment.nameSpan);
    if (!found.match) {
      this.error(
        'unknownMember',
        `Unknown navigation property or column '${segment.name}' of ${scope.name}.${didYouMeanText(found.suggestions)}`,
        span,
        found.suggestions,
      );
      return undefined;
    }
    if (found.caseMismatch) {
      this.error('unknownMember', `Names are case-sensitive: '${found.match.name}', not '${segment.name}'.`, span, [
        found.match.name,
      ]);
      return undefined;
    }
    if (!('collection' in found.match)) {
      this.references.push({ kind: 'property', span, owner: scope, property: found.match });
      return 'property';
    }
    const target = this.index.entityType(found.match.type);
    this.references.push({ kind: 'navigation', span, owner: scope, navigation: found.match, target });
    return { navigation: found.match, target };
  }

  /**
   * The key of a row of `type`: `(<guid>)` for the primary key, `(name=value,…)` for an alternate key
   * (Retrieve a table row, https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-entity-using-web-api).
   * A value of the wrong kind for the primary key (`accounts(123)`) is refused by Dataverse; an
   * alternate key's columns must exist, and a value of another kind is only warned about, as
   * which conversions Dataverse makes there is not documented.
   */
  private key(type: EntityType, args: SegmentArguments): void {
    const index = this.index;
    if (args.kind === 'keyValue') {
      const value = args.value;
      const keyNames = index.key(type);
      if (value.kind !== 'literal' || keyNames.length !== 1) return;
      const property = index.property(type, keyNames[0]!);
      const problem = property && mismatch(valueTypeOfProperty(property.type), value);
      if (problem && property) {
        this.error(
          'keyType',
          `The key of ${type.name} is '${property.name}' (${property.type}): ${problem}` +
            (property.type === 'Edm.Guid'
              ? ' Write the id without quotes, e.g. 00000000-0000-0000-0000-000000000001, or name an alternate key: (column=value).'
              : ''),
          this.at(value.span),
        );
      }
      return;
    }
    let allKnown = true;
    for (const part of args.values) {
      const found = index.findProperty(type, part.name);
      const nameSpan = this.at(part.nameSpan);
      if (!found.match || found.caseMismatch) allKnown = false;
      if (!found.match) {
        this.error(
          'unknownColumn',
          `Unknown column '${part.name}' of ${type.name} in a key.${didYouMeanText(found.suggestions)}`,
          nameSpan,
          found.suggestions,
        );
        continue;
      }
      if (found.caseMismatch) {
        this.error('unknownColumn', `Names are case-sensitive: '${found.match.name}', not '${part.name}'.`, nameSpan, [
          found.match.name,
        ]);
        continue;
      }
      this.references.push({ kind: 'property', span: nameSpan, owner: type, property: found.match });
      if (part.value.kind !== 'literal') continue;
      const problem = mismatch(valueTypeOfProperty(found.match.type), part.value);
      if (problem) {
        this.diagnostics.push({
          code: 'keyType',
          message: `'${found.match.name}' is ${found.match.type}: ${problem}`,
          severity: 'warning',
          span: this.at(part.value.span),
          fixes: [],
        });
      }
    }
    if (allKnown) this.alternateKey(type, args);
  }

  /**
   * Named key values must name the primary key or one alternate key, all of its columns (Use an
   * alternate key to reference a record, https://learn.microsoft.com/power-apps/developer/data-platform/use-alternate-key-reference-record).
   * Only a warning, and only when the metadata lists the table's alternate keys: a key defined
   * after the metadata was downloaded is one Dataverse accepts.
   */
  private alternateKey(type: EntityType, args: SegmentArguments & { kind: 'namedValues' }): void {
    const keys = this.index.alternateKeys(type);
    if (keys === undefined) return;
    const named = new Set(args.values.map((part) => part.name));
    const sameColumns = (key: readonly string[]): boolean =>
      key.length === named.size && key.every((column) => named.has(column));
    if (sameColumns(this.index.key(type))) return;
    const list = (key: readonly string[]): string => `(${key.join(', ')})`;
    const key = keys.find((key) => sameColumns(key.columns));
    if (key !== undefined) {
      // A key whose index is Pending, InProgress or Failed addresses no record yet (EntityKeyIndexStatus:
      // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/entitykeyindexstatus).
      if (key.status !== undefined && key.status !== 'Active') {
        this.diagnostics.push({
          code: 'alternateKeyNotActive',
          message:
            `The alternate key ${key.name ?? list(key.columns)} of ${type.name} has index status ${key.status}; ` +
            'Dataverse uses a key only once its index is Active. Use the id meanwhile, or refresh the metadata later.',
          severity: 'warning',
          span: this.at(args.span),
          fixes: [],
        });
      }
      return;
    }
    this.diagnostics.push({
      code: 'unknownAlternateKey',
      message:
        `${type.name} has no alternate key of ${list([...named])} in this metadata; Dataverse answers 400 for a key it does not define. ` +
        (keys.length > 0
          ? `Its alternate keys: ${keys.map((key) => list(key.columns)).join(', ')}.`
          : 'It has none: use the id, or define a key on the table and refresh the metadata.'),
      severity: 'warning',
      span: this.at(args.span),
      fixes: [],
    });
  }
}
