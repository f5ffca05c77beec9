/**
 * Resolves one request against the metadata: which entity set and type its URL addresses, what each
 * name in its path, query options and JSON body refers to, and what is wrong with them. Diagnostics
 * and hover both read this one analysis, so they never disagree.
 */
import type { MetadataIndex } from '../../metadata/lookup';
import { didYouMean } from '../../metadata/lookup';
import type { ComplexType, EntitySet, EntityType, NavigationProperty, Property } from '../../metadata/model';
import type { Request, TextSpan } from '../document/syntax';
import { CANONICAL_FUNCTIONS, QUERY_FUNCTIONS, QUERY_FUNCTION_NAMESPACE } from '../url/functions';
import type {
  ExpandClause,
  ExpressionNode,
  FunctionCallNode,
  Identifier,
  MemberNode,
  OrderByClause,
  SelectClause,
  Transformation,
} from '../url/syntax';
import { didYouMeanText, replaceFixes } from './messages';
import { queryFunctionColumn } from './queryFunctionColumns';
import type { Reference, ResolvedPath } from './resolvePath';
import { resolvePath } from './resolvePath';
import type { LanguageDiagnostic, QuickFix } from './types';
import type { ValueType } from './valueTypes';
import { mismatch, valueTypeOfProperty } from './valueTypes';

export type { Reference };

export interface RequestAnalysis {
  /** The entity set the path starts from, when it is one. */
  readonly entitySet: EntitySet | undefined;
  /** The entity type the query options and body apply to. */
  readonly scope: EntityType | undefined;
  /** True when the path addresses one record (a key) rather than a collection. */
  readonly single: boolean;
  readonly references: readonly Reference[];
  readonly diagnostics: readonly LanguageDiagnostic[];
}

const COMPARISON = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
/** The lambda variables outside any `any`/`all`: one shared empty map, only read (a lambda copies it). */
const NO_LAMBDAS: ReadonlyMap<string, EntityType> = new Map();

class Analyzer {
  readonly references: Reference[];
  readonly diagnostics: LanguageDiagnostic[];

  constructor(
    private readonly index: MetadataIndex,
    /** Offset of the URL in the document: URL spans are relative to it. */
    private readonly shift: number,
    path: ResolvedPath,
  ) {
    this.references = [...path.references];
    this.diagnostics = [...path.diagnostics];
  }

  private at(span: TextSpan): TextSpan {
    return { start: span.start + this.shift, end: span.end + this.shift };
  }

  error(
    code: string,
    message: string,
    span: TextSpan,
    fixes: QuickFix[] = [],
    severity: 'error' | 'warning' = 'error',
  ): void {
    this.diagnostics.push({ code, message, severity, span, fixes });
  }

  private unknown(
    code: string,
    what: string,
    name: string,
    span: TextSpan,
    suggestions: readonly string[],
    caseMismatch?: string,
  ): void {
    const at = this.at(span);
    if (caseMismatch !== undefined) {
      this.error(
        code,
        `Names are case-sensitive: '${caseMismatch}', not '${name}'.`,
        at,
        replaceFixes(at, [caseMismatch]),
      );
      return;
    }
    const [kind, owner] = what.split(' of ');
    this.error(
      code,
      `Unknown ${kind} '${name}'${owner ? ` of ${owner}` : ''}.${didYouMeanText(suggestions)}`,
      at,
      replaceFixes(at, suggestions),
    );
  }

  /** Resolves one name of `type`: a column or a navigation property, reporting unknown names. */
  member(type: EntityType, id: Identifier, what: 'column' | 'member'): Property | NavigationProperty | undefined {
    const found = what === 'column' ? this.index.findProperty(type, id.name) : this.index.findMemberOf(type, id.name);
    if (!found.match) {
      const kind = what === 'column' ? 'column' : 'column or navigation property';
      this.unknown('unknownColumn', `${kind} of ${type.name}`, id.name, id.span, found.suggestions);
      return undefined;
    }
    if (found.caseMismatch) {
      this.unknown('unknownColumn', '', id.name, id.span, [], found.match.name);
    }
    this.addMemberReference(type, found.match, id.span);
    return found.match;
  }

  private addMemberReference(owner: EntityType, member: Property | NavigationProperty, span: TextSpan): void {
    if ('collection' in member) {
      this.references.push({
        kind: 'navigation',
        span: this.at(span),
        owner,
        navigation: member,
        target: this.index.entityType(member.type),
      });
    } else {
      this.references.push({ kind: 'property', span: this.at(span), owner, property: member });
    }
  }

  select(type: EntityType, clause: SelectClause): void {
    for (const item of clause.items) {
      const first = item.segments[0];
      if (!first || first.name === '*' || first.name.includes('.')) continue;
      const found = this.index.findMemberOf(type, first.name);
      if (found.match && 'collection' in found.match) {
        const lookup = this.index.lookupPropertyFor(type, found.match.name);
        const at = this.at(first.span);
        this.addMemberReference(type, found.match, first.span);
        this.error(
          'navigationInSelect',
          `'${first.name}' is a navigation property: $select takes columns.` +
            (lookup ? ` Select '${lookup}' for the id, or $expand=${first.name}.` : ` Use $expand=${first.name}.`),
          at,
          lookup ? replaceFixes(at, [lookup]) : [],
        );
        continue;
      }
      this.member(type, first, 'column');
    }
  }

  orderBy(type: EntityType, clause: OrderByClause): void {
    for (const item of clause.items) this.expression(type, item.expression, NO_LAMBDAS);
  }

  expand(type: EntityType, clause: ExpandClause): void {
    for (const item of clause.items) {
      const first = item.segments[0];
      if (!first || first.name === '*' || first.name.includes('.')) continue;
      const found = this.index.findNavigationProperty(type, first.name);
      if (!found.match) {
        const asColumn = this.index.property(type, first.name);
        if (asColumn) {
          this.error(
            'notNavigation',
            `'${first.name}' is a column, not a navigation property: $expand takes navigation properties.`,
            this.at(first.span),
          );
          continue;
        }
        // A lookup column name (`_primarycontactid_value`) stands for its navigation property.
        const fromLookup = this.index.navigationForLookup(type, first.name).map((n) => n.name);
        this.unknown(
          'unknownNavigation',
          `navigation property of ${type.name}`,
          first.name,
          first.span,
          fromLookup.length > 0 ? fromLookup : found.suggestions,
        );
        continue;
      }
      if (found.caseMismatch) this.unknown('unknownNavigation', '', first.name, first.span, [], found.match.name);
      const navigation = found.match;
      const target = this.index.entityType(navigation.type);
      this.references.push({ kind: 'navigation', span: this.at(first.span), owner: type, navigation, target });
      if (!navigation.collection) {
        for (const option of item.optionList) {
          if (option.name === '$top' || option.name === '$orderby') {
            this.error(
              'expandOptionOnSingle',
              `'${option.name}' works only when expanding a collection; '${navigation.name}' is single-valued.`,
              this.at(option.nameSpan),
            );
          }
        }
      }
      if (!target) continue;
      const options = item.options;
      if (options.select) this.select(target, options.select);
      if (options.filter) this.expression(target, options.filter, NO_LAMBDAS);
      if (options.orderBy) this.orderBy(target, options.orderBy);
      if (options.expand) this.expand(target, options.expand);
    }
  }

  apply(type: EntityType, transformations: readonly Transformation[]): void {
    for (const t of transformations) {
      switch (t.kind) {
        case 'filter':
          this.expression(type, t.expression, NO_LAMBDAS);
          break;
        case 'groupby':
          for (const property of t.properties) this.expression(type, property, NO_LAMBDAS);
          this.apply(type, t.transformations);
          break;
        case 'aggregate':
          for (const item of t.items) if (item.expression) this.expression(type, item.expression, NO_LAMBDAS);
          break;
        case 'orderby':
          this.orderBy(type, t.orderBy);
          break;
        default:
          break;
      }
    }
  }

  /** Resolves a member path; returns the type of the value it ends on. */
  private memberPath(
    type: EntityType,
    node: MemberNode,
    lambdas: ReadonlyMap<string, EntityType>,
  ): ValueType | 'navigation' {
    let current: EntityType | undefined = type;
    let segments = node.segments;
    if (node.lambdaVariable && segments[0]) {
      current = lambdas.get(segments[0].name);
      segments = segments.slice(1);
    }
    let result: ValueType | 'navigation' = undefined;
    /** After a property of complex type (`iscustomizable`, a BooleanManagedProperty): its members come next. */
    let complex: ComplexType | undefined;
    for (const segment of segments) {
      if (segment.name.startsWith('$') || segment.name.includes('.')) return undefined;
      if (complex) {
        const name = segment.name;
        const member: Property | undefined = complex.properties.find((p) => p.name === name);
        if (!member) {
          const names = complex.properties.map((p) => p.name);
          this.unknown('unknownColumn', `member of ${complex.name}`, name, segment.span, didYouMean(name, names));
          return undefined;
        }
        complex = this.index.complexType(member.type);
        result = valueTypeOfProperty(member.type);
        continue;
      }
      if (!current) return undefined;
      const found = this.member(current, segment, 'member');
      if (!found) return undefined;
      if ('collection' in found) {
        current = this.index.entityType(found.type);
        result = 'navigation';
      } else {
        current = undefined;
        complex = this.index.complexType(found.type);
        result = valueTypeOfProperty(found.type);
      }
    }
    return result;
  }

  private lastProperty(
    type: EntityType,
    node: MemberNode,
    lambdas: ReadonlyMap<string, EntityType>,
  ): Property | undefined {
    let current: EntityType | undefined = node.lambdaVariable ? lambdas.get(node.segments[0]?.name ?? '') : type;
    /** After a property of complex type (`iscustomizable`): the member that follows is one of its properties. */
    let complex: ComplexType | undefined;
    const segments = node.lambdaVariable ? node.segments.slice(1) : node.segments;
    for (let i = 0; i < segments.length; i++) {
      const name = segments[i]!.name;
      const last = i === segments.length - 1;
      if (complex) {
        const member = complex.properties.find((p) => p.name === name);
        if (member === undefined || last) return member;
        complex = this.index.complexType(member.type);
      } else if (current) {
        if (last) return this.index.property(current, name);
        const navigation = this.index.navigationProperty(current, name);
        const property = navigation ? undefined : this.index.property(current, name);
        complex = property ? this.index.complexType(property.type) : undefined;
        current = navigation ? this.index.entityType(navigation.type) : undefined;
      }
      if (!current && !complex) return undefined;
    }
    return undefined;
  }

  expression(type: EntityType, node: ExpressionNode, lambdas: ReadonlyMap<string, EntityType>): void {
    switch (node.kind) {
      case 'member':
        this.memberPath(type, node, lambdas);
        return;
      case 'lambda': {
        this.memberPath(type, node.source, lambdas);
        const source = node.source;
        let owner: EntityType | undefined = source.lambdaVariable ? lambdas.get(source.segments[0]?.name ?? '') : type;
        const segments = source.lambdaVariable ? source.segments.slice(1) : source.segments;
        for (const segment of segments) {
          const navigation = owner && this.index.navigationProperty(owner, segment.name);
          owner = navigation ? this.index.entityType(navigation.type) : undefined;
        }
        if (node.variable && node.predicate && owner) {
          const inner = new Map(lambdas);
          inner.set(node.variable.name, owner);
          this.expression(type, node.predicate, inner);
        }
        return;
      }
      case 'binary': {
        this.expression(type, node.left, lambdas);
        this.expression(type, node.right, lambdas);
        if (COMPARISON.has(node.operator)) {
          this.compare(type, node.left, node.right, lambdas);
          this.compare(type, node.right, node.left, lambdas);
        }
        return;
      }
      case 'in':
        this.expression(type, node.left, lambdas);
        this.expression(type, node.right, lambdas);
        return;
      case 'unary':
        this.expression(type, node.operand, lambdas);
        return;
      case 'list':
      case 'array':
        for (const item of node.items) this.expression(type, item, lambdas);
        return;
      case 'call':
        if (CANONICAL_FUNCTIONS.has(node.name))
          this.references.push({ kind: 'function', span: this.at(node.nameSpan), name: node.name });
        for (const arg of node.args) this.expression(type, arg, lambdas);
        return;
      case 'functionCall': {
        const local = node.name.startsWith(`${QUERY_FUNCTION_NAMESPACE}.`)
          ? node.name.slice(QUERY_FUNCTION_NAMESPACE.length + 1)
          : undefined;
        if (local !== undefined && QUERY_FUNCTIONS.has(local)) {
          this.references.push({ kind: 'queryFunction', span: this.at(node.nameSpan), name: local });
        }
        this.queryFunctionColumn(type, node);
        return;
      }
      default:
        return;
    }
  }

  /** `PropertyName='…'` of a query function: a logical name, so a lookup goes by `ownerid`, not `_ownerid_value`. */
  private queryFunctionColumn(type: EntityType, node: FunctionCallNode): void {
    const propertyName = node.parameters.find((p) => p.name === 'PropertyName')?.value;
    if (propertyName?.kind !== 'literal' || typeof propertyName.value !== 'string') return;
    const name = propertyName.value;
    // The span of the name inside the quotes.
    const span = { start: propertyName.span.start + 1, end: propertyName.span.end - 1 };
    const column = queryFunctionColumn(this.index, type, name);
    if (column.kind === 'unknown') {
      this.unknown('unknownColumn', `column of ${type.name}`, name, span, column.suggestions);
      return;
    }
    this.addMemberReference(type, column.property, span);
    if (column.kind === 'lookupProperty') {
      const at = this.at(span);
      this.error(
        'lookupPropertyInQueryFunction',
        `Query functions name a lookup column by its logical name: '${column.logicalName}', not '${name}'.`,
        at,
        replaceFixes(at, [column.logicalName]),
      );
    }
  }

  private compare(
    type: EntityType,
    column: ExpressionNode,
    value: ExpressionNode,
    lambdas: ReadonlyMap<string, EntityType>,
  ): void {
    if (column.kind !== 'member' || value.kind !== 'literal') return;
    const property = this.lastProperty(type, column, lambdas);
    if (!property) return;
    const problem = mismatch(valueTypeOfProperty(property.type), value);
    if (problem) {
      this.error('typeMismatch', `'${property.name}' is ${property.type}: ${problem}`, this.at(value.span));
      return;
    }
    const options = property.info?.options;
    if (
      options &&
      options.length > 0 &&
      typeof value.value === 'number' &&
      !options.some((o) => o.value === value.value)
    ) {
      this.error(
        'unknownOptionValue',
        `${value.value} is not a value of '${property.name}': ${options.map((o) => `${o.value} ${o.label}`).join(', ')}.`,
        this.at(value.span),
        [],
        'warning',
      );
    }
  }
}

/** Analyses a request; without metadata it finds nothing (syntax is the parsers' job). */
export function analyzeRequest(request: Request, index: MetadataIndex | undefined): RequestAnalysis {
  if (!index) return { entitySet: undefined, scope: undefined, single: false, references: [], diagnostics: [] };
  const shift = request.url.span.start;
  const path = resolvePath(index, request.url.tree.path, shift);
  const analyzer = new Analyzer(index, shift, path);
  const { entitySet, scope, single } = path;
  const query = request.url.tree.query;
  if (scope) {
    if (query.select) analyzer.select(scope, query.select);
    if (query.expand) analyzer.expand(scope, query.expand);
    if (query.filter) analyzer.expression(scope, query.filter, NO_LAMBDAS);
    if (query.orderBy) analyzer.orderBy(scope, query.orderBy);
    if (query.apply) analyzer.apply(scope, query.apply.transformations);
    checkBody(analyzer, index, request, scope);
  }
  return { entitySet, scope, single, references: analyzer.references, diagnostics: analyzer.diagnostics };
}

function checkBody(analyzer: Analyzer, index: MetadataIndex, request: Request, scope: EntityType): void {
  const body = request.body;
  if (body?.kind !== 'json' || !(request.method === 'POST' || request.method === 'PATCH' || request.method === 'PUT'))
    return;
  for (const member of body.members) {
    const nameSpan = { start: member.nameSpan.start + 1, end: member.nameSpan.end - 1 };
    const at = member.name.indexOf('@');
    if (at === 0) continue;
    if (at > 0) {
      const annotation = member.name.slice(at);
      if (annotation !== '@odata.bind') continue;
      const navigationName = member.name.slice(0, at);
      const navSpan = { start: nameSpan.start, end: nameSpan.start + at };
      const found = index.findNavigationProperty(scope, navigationName);
      if (!found.match || found.caseMismatch) {
        const suggestions = found.caseMismatch && found.match ? [found.match.name] : found.suggestions;
        analyzer.error(
          'unknownNavigation',
          `Unknown navigation property '${navigationName}' of ${scope.name} for @odata.bind.${didYouMeanText(suggestions)}`,
          navSpan,
          replaceFixes(navSpan, suggestions),
        );
        continue;
      }
      const target = index.entityType(found.match.type);
      analyzer.references.push({ kind: 'navigation', span: navSpan, owner: scope, navigation: found.match, target });
      const value = member.stringValue;
      const setName = value === undefined ? undefined : /^\/?([A-Za-z_][\w]*)\(/.exec(value)?.[1];
      if (setName !== undefined && member.valueSpan && !index.entitySet(setName)) {
        const suggestions = didYouMeanOf(index, setName);
        analyzer.error(
          'unknownEntitySet',
          `Unknown entity set '${setName}' in @odata.bind.${didYouMeanText(suggestions)}`,
          member.valueSpan,
        );
      }
      continue;
    }
    const found = index.findMemberOf(scope, member.name);
    const fromNavigation = index.navigationForLookup(scope, member.name);
    if (!found.match || fromNavigation.length > 0) {
      if (fromNavigation.length > 0) {
        const bind = `${fromNavigation[0]!.name}@odata.bind`;
        analyzer.error(
          'lookupInBody',
          `Lookup columns are set through their navigation property: "${bind}": "/<entityset>(<id>)".`,
          nameSpan,
          replaceFixes(nameSpan, [bind]),
        );
        continue;
      }
      analyzer.error(
        'unknownColumn',
        `Unknown column '${member.name}' of ${scope.name}.${didYouMeanText(found.suggestions)}`,
        nameSpan,
        replaceFixes(nameSpan, found.suggestions),
      );
      continue;
    }
    if (found.caseMismatch) {
      analyzer.error(
        'unknownColumn',
        `Names are case-sensitive: '${found.match.name}', not '${member.name}'.`,
        nameSpan,
        replaceFixes(nameSpan, [found.match.name]),
      );
      continue;
    }
    if ('collection' in found.match) {
      analyzer.references.push({
        kind: 'navigation',
        span: nameSpan,
        owner: scope,
        navigation: found.match,
        target: index.entityType(found.match.type),
      });
    } else {
      analyzer.references.push({ kind: 'property', span: nameSpan, owner: scope, property: found.match });
    }
  }
}

function didYouMeanOf(index: MetadataIndex, name: string): string[] {
  return [...index.findEntitySet(name).suggestions];
}
