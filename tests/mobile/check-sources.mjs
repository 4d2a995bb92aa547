// Parses every Kotlin and Swift source of the two phone apps with tree-sitter and fails on
// a syntax error, or on a use of a PatrolKit name — a member of a binding type or of the
// repository layer, an enum case, a nested type, a record's constructor argument, an import —
// that the generated bindings (or the repository layer over them) do not define. Where a value
// of a PatrolKit enum is compared or switched on, its cases are checked too (Swift's `.case`
// shorthand included), and so is a string or another enum's case in their place: a wire name
// left over from when enums crossed as strings.
//
// The apps cannot be compiled here (no Android SDK, no Xcode); this is what catches a renamed
// facade method or a misspelt record field before a developer with the SDK does.
//
//   node check-sources.mjs --kotlin-bindings DIR --swift-bindings DIR ROOT...
//
// Types are followed as far as the source states them: declared types of properties and
// parameters, constructor calls, the declared return and field types of PatrolKit members,
// `for` loops and collection lambdas over lists of PatrolKit types, and in Kotlin the typed
// properties a class inherits from the app's own classes (a view model's `repo`). A name bound to two
// different types in one file is not followed (it is reported as unchecked, not guessed). A
// PatrolKit type name means PatrolKit's type only where the file can see it: in Kotlin when it
// is imported from PatrolKit (a `Role` imported from Compose is Compose's), in Swift unless the
// app declares a type of that name itself.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Language, Parser } from 'web-tree-sitter';

const here = dirname(fileURLToPath(import.meta.url));
const GRAMMARS = {
  kotlin: join(here, 'node_modules/@tree-sitter-grammars/tree-sitter-kotlin/tree-sitter-kotlin.wasm'),
  swift: join(here, 'node_modules/@repomix/tree-sitter-wasms/out/tree-sitter-swift.wasm'),
};
const EXT = { '.kt': 'kotlin', '.swift': 'swift' };

/** Members every value has, or that the standard library adds to every type. */
const UNIVERSAL = {
  kotlin: new Set([
    'toString', 'equals', 'hashCode', 'copy', 'let', 'also', 'apply', 'run', 'takeIf',
    'takeUnless', 'to', 'use', 'javaClass', 'name', 'ordinal', 'entries', 'values', 'valueOf',
    'message', 'cause', 'localizedMessage', 'stackTrace', 'printStackTrace', 'component1',
    'component2', 'component3', 'component4', 'component5', 'component6', 'component7',
    'component8', 'component9', 'component10', 'compareTo',
  ]),
  swift: new Set([
    'self', 'description', 'debugDescription', 'hashValue', 'hash', 'localizedDescription',
    'map', 'flatMap', 'allCases', 'rawValue', 'init', 'Type',
  ]),
};

/** Collection lambdas whose parameter is the element. */
const ELEMENT_LAMBDAS = new Set([
  'forEach', 'map', 'mapNotNull', 'filter', 'filterNot', 'any', 'all', 'none', 'first',
  'firstOrNull', 'last', 'lastOrNull', 'find', 'count', 'sortedBy', 'sortedByDescending',
  'groupBy', 'associateBy', 'partition', 'sumOf', 'maxByOrNull', 'minByOrNull', 'single',
  'singleOrNull', 'items', 'forEachIndexed', 'ForEach', 'contains', 'compactMap', 'sorted',
  'firstIndex', 'allSatisfy', 'onEach',
]);

export async function loadParsers() {
  await Parser.init();
  const parsers = {};
  for (const [lang, wasm] of Object.entries(GRAMMARS)) {
    const p = new Parser();
    p.setLanguage(await Language.load(wasm));
    parsers[lang] = p;
  }
  return parsers;
}

function filesUnder(root, exts, skip = () => false) {
  const out = [];
  const walk = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      const base = p.split('/').pop();
      if (['build', 'node_modules', '.gradle', '.build', 'DerivedData'].includes(base) || skip(p)) return;
      for (const e of readdirSync(p).sort()) walk(join(p, e));
    } else if (exts.some((x) => p.endsWith(x))) out.push(p);
  };
  walk(root);
  return out;
}

/** Syntax errors of a tree: `line:col what`. */
export function syntaxErrors(tree) {
  const bad = [];
  const walk = (n) => {
    if (n.isError || n.isMissing) {
      const what = n.isMissing ? `missing ${n.type}` : `cannot parse ${JSON.stringify(n.text.slice(0, 40))}`;
      bad.push(`${n.startPosition.row + 1}:${n.startPosition.column + 1} ${what}`);
    } else if (n.hasError) n.children.forEach(walk);
  };
  walk(tree.rootNode);
  return bad;
}

const named = (n) => n.namedChildren;
const childOf = (n, ...types) => named(n).find((c) => types.includes(c.type));
const ident = (s) => s.replace(/`/g, '');

// ---------------------------------------------------------------------------------------------
// Type references: { name, elem } — elem is the element type of a list / array.

function typeRef(lang, node) {
  if (!node) return null;
  switch (node.type) {
    case 'nullable_type':
    case 'optional_type':
    case 'implicitly_unwrapped_type':
    case 'parenthesized_type':
      return typeRef(lang, named(node)[0]);
    case 'array_type':
      return { name: 'Array', elem: typeRef(lang, named(node)[0]) };
    case 'user_type': {
      // `ItemAnswer.Mark` names a nested type; `app.patrol.kit.ffi.Issue` a package's type.
      const ids = named(node).filter((c) => c.type === 'identifier' || c.type === 'type_identifier')
        .map((c) => ident(c.text));
      while (ids.length > 1 && /^[a-z]/.test(ids[0])) ids.shift();
      const name = ids.join('.');
      const args = childOf(node, 'type_arguments');
      let elem = null;
      if (args && ['List', 'MutableList', 'Collection', 'Iterable', 'Set', 'Array', 'Sequence', 'StateFlow', 'Flow'].includes(name)) {
        const first = named(args)[0];
        elem = typeRef(lang, first?.type === 'type_projection' ? named(first)[0] : first);
      }
      return { name, elem };
    }
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The model: what PatrolKit defines.

class Model {
  constructor(lang) {
    this.lang = lang;
    this.types = new Map(); // name -> { members: Map name -> typeRef|null, statics: Map, params: Set|null, supers: [] }
    this.topLevel = new Set();
  }

  type(name) {
    if (!this.types.has(name)) {
      this.types.set(name, { members: new Map(), statics: new Map(), params: null, supers: [] });
    }
    return this.types.get(name);
  }

  has(name) {
    return this.types.has(name);
  }

  /** Instance member lookup, through supertypes of the model. */
  member(typeName, name, seen = new Set()) {
    const t = this.types.get(typeName);
    if (!t || seen.has(typeName)) return undefined;
    seen.add(typeName);
    if (t.members.has(name)) return { type: t.members.get(name) };
    for (const s of t.supers) {
      const m = this.member(s, name, seen);
      if (m) return m;
    }
    return undefined;
  }

  /** A member of the type or, through a smart cast (`is ItemAnswer.Mark ->`), of a subtype. */
  reachable(typeName, name) {
    const direct = this.member(typeName, name);
    if (direct) return direct;
    for (const [sub, t] of this.types) {
      if (sub !== typeName && t.supers.includes(typeName)) {
        const m = this.reachable(sub, name);
        if (m) return m;
      }
    }
    return undefined;
  }

  static(typeName, name) {
    const t = this.types.get(typeName);
    if (!t) return undefined;
    if (t.statics.has(name)) return { type: t.statics.get(name) };
    return undefined;
  }
}

function addKotlinDeclarations(model, root) {
  const visitClass = (node, outer) => {
    const nameNode = childOf(node, 'identifier');
    if (!nameNode) return;
    // A nested type is known by its qualified name only (`ItemAnswer.Text`, not `Text`,
    // which in an app is Compose's).
    const simple = ident(nameNode.text);
    const name = outer ? `${outer}.${simple}` : simple;
    const t = model.type(name);
    if (outer) model.type(outer).statics.set(simple, { name, elem: null });
    // An enum class, or a sealed class (a uniffi enum whose variants carry data).
    if (/\b(enum|sealed)\b/.test(childOf(node, 'modifiers')?.text ?? '')) t.enum = true;
    for (const d of named(childOf(node, 'delegation_specifiers') ?? { namedChildren: [] })) {
      const r = typeRef('kotlin', childOf(d, 'user_type', 'constructor_invocation') && (childOf(d, 'user_type') ?? childOf(childOf(d, 'constructor_invocation'), 'user_type')));
      if (r?.name) t.supers.push(r.name);
    }
    const ctor = childOf(node, 'primary_constructor');
    if (ctor) {
      t.params = t.params ?? new Set();
      for (const p of named(childOf(ctor, 'class_parameters') ?? { namedChildren: [] })) {
        const pn = childOf(p, 'identifier');
        if (!pn) continue;
        t.params.add(ident(pn.text));
        if (p.children.some((c) => c.type === 'val' || c.type === 'var')) {
          t.members.set(ident(pn.text), typeRef('kotlin', childOf(p, 'user_type', 'nullable_type')));
        }
      }
    }
    const body = childOf(node, 'class_body', 'enum_class_body');
    if (body) visitBody(body, name, node.type === 'object_declaration');
  };
  const visitBody = (body, owner, isStatic) => {
    for (const m of named(body)) {
      const target = () => (isStatic ? model.type(owner).statics : model.type(owner).members);
      if (m.type === 'function_declaration') {
        const n = childOf(m, 'identifier');
        if (!n) continue;
        const types = named(m).filter((c) => c.type === 'user_type' || c.type === 'nullable_type');
        const ret = types.find((c) => c.startIndex > n.startIndex) ?? null;
        target().set(ident(n.text), typeRef('kotlin', ret));
      } else if (m.type === 'property_declaration') {
        const v = childOf(m, 'variable_declaration');
        const n = v && childOf(v, 'identifier');
        if (n) target().set(ident(n.text), typeRef('kotlin', childOf(v, 'user_type', 'nullable_type')));
      } else if (m.type === 'enum_entry') {
        const n = childOf(m, 'identifier');
        if (n) model.type(owner).statics.set(ident(n.text), { name: owner, elem: null });
      } else if (m.type === 'companion_object') {
        const b = childOf(m, 'class_body');
        if (b) visitBody(b, owner, true);
      } else if (m.type === 'class_declaration' || m.type === 'object_declaration') {
        visitClass(m, owner);
      }
    }
  };
  for (const n of named(root)) {
    if (n.type === 'class_declaration' || n.type === 'object_declaration') visitClass(n, null);
    else if (n.type === 'function_declaration') addKotlinExtension(model, n);
  }
}

/** `fun Issue.slaText()` and top-level functions. */
function addKotlinExtension(model, fn) {
  const n = childOf(fn, 'identifier');
  if (!n) return;
  const recv = named(fn).find((c) => c.type === 'user_type' && c.startIndex < n.startIndex);
  if (recv) {
    const r = typeRef('kotlin', recv);
    if (r && model.has(r.name)) model.type(r.name).members.set(ident(n.text), null);
  } else model.topLevel.add(ident(n.text));
}

function addSwiftDeclarations(model, root, { generated = false } = {}) {
  // The bindings' `fileprivate extension Data` is theirs alone: an app's `Data` is Foundation's.
  // (The repository layer's own private members are used in its own files, so they stay.)
  const hidden = (node) => generated && /\b(private|fileprivate)\b/.test(childOf(node, 'modifiers')?.text ?? '');
  const visit = (node, outer) => {
    if (hidden(node)) return;
    let name;
    if (node.type === 'class_declaration' || node.type === 'protocol_declaration') {
      const direct = childOf(node, 'type_identifier');
      name = direct ? direct.text : typeRef('swift', childOf(node, 'user_type'))?.name;
    }
    if (!name) return;
    const simple = name;
    if (outer && !node.children.some((c) => c.type === 'extension')) {
      name = `${outer}.${simple}`;
      model.type(outer).statics.set(simple, { name, elem: null });
    }
    const t = model.type(name);
    if (node.children.some((c) => c.type === 'enum')) t.enum = true;
    for (const s of named(node).filter((c) => c.type === 'inheritance_specifier')) {
      const r = typeRef('swift', childOf(s, 'user_type'));
      if (r?.name && r.name !== name) t.supers.push(r.name);
    }
    const body = childOf(node, 'class_body', 'enum_class_body', 'protocol_body');
    if (!body) return;
    for (const m of named(body)) {
      if (hidden(m)) continue;
      const isStatic = childOf(m, 'modifiers')?.text.match(/\b(static|class)\b/);
      const target = isStatic ? t.statics : t.members;
      if (m.type === 'function_declaration' || m.type === 'protocol_function_declaration') {
        const n = childOf(m, 'simple_identifier');
        const ret = named(m).filter((c) => ['user_type', 'optional_type', 'array_type'].includes(c.type)
          && !c.parent?.type?.includes('parameter')).pop();
        if (n) target.set(ident(n.text), typeRef('swift', ret));
      } else if (m.type === 'property_declaration' || m.type === 'protocol_property_declaration') {
        const p = childOf(m, 'pattern');
        const n = p && (childOf(p, 'simple_identifier') ?? (p.type === 'simple_identifier' ? p : null));
        const ann = childOf(m, 'type_annotation');
        if (n) target.set(ident(n.text), typeRef('swift', ann && named(ann)[0]));
      } else if (m.type === 'init_declaration') {
        t.params = t.params ?? new Set();
        for (const p of named(m).filter((c) => c.type === 'parameter')) {
          const ids = named(p).filter((c) => c.type === 'simple_identifier');
          if (ids.length) t.params.add(ids[0].text);
        }
      } else if (m.type === 'enum_entry') {
        for (const n of named(m).filter((c) => c.type === 'simple_identifier')) {
          t.statics.set(ident(n.text), { name, elem: null });
        }
      } else if (m.type === 'class_declaration' || m.type === 'protocol_declaration') {
        visit(m, name);
      }
    }
  };
  for (const n of named(root)) {
    if (n.type === 'class_declaration' || n.type === 'protocol_declaration') visit(n, null);
    else if (n.type === 'function_declaration') {
      const f = childOf(n, 'simple_identifier');
      if (f) model.topLevel.add(f.text);
    }
  }
}

/**
 * The generated Swift uses `#if swift(>=5.8)` around attributes and `nonisolated(unsafe)`,
 * which the grammar does not know; they carry no declarations, so they go before parsing.
 */
function cleanGeneratedSwift(src) {
  return src
    .split('\n')
    .map((l) => (/^\s*#(if|else|elseif|endif)\b/.test(l) || /^\s*@_documentation/.test(l) ? '' : l))
    .join('\n')
    .replace(/nonisolated\(unsafe\)\s+/g, '');
}

// ---------------------------------------------------------------------------------------------
// Checking one app source.

/**
 * Which PatrolKit type names a Kotlin file can see: those it imports from PatrolKit (all of
 * them in PatrolKit's own packages or with a `.*` import), never one it imports from elsewhere.
 */
function kotlinVisibility(root) {
  const names = new Set();
  const shadowed = new Set();
  const pkg = childOf(root, 'package_header')?.text.replace(/^package\s+/, '').trim() ?? '';
  let all = /^app\.patrol\.kit(\.|$)/.test(pkg);
  for (const imp of named(root).filter((c) => c.type === 'import' || c.type === 'import_header')) {
    const q = imp.text.replace(/^import\s+/, '').replace(/\s+/g, ' ').trim();
    let m;
    if (/^app\.patrol\.kit(\.ffi)?\.\*$/.test(q)) all = true;
    else if ((m = q.match(/^app\.patrol\.kit(?:\.ffi)?\.([A-Za-z_]\w*)$/))) names.add(m[1]);
    else if ((m = q.match(/([A-Za-z_]\w*)(?: as ([A-Za-z_]\w*))?$/))) shadowed.add(m[2] ?? m[1]);
  }
  return { all, names, shadowed };
}

/** The classes a Kotlin file declares at its top level: name, the class it extends, node. */
function kotlinClassDeclarations(root) {
  return named(root)
    .filter((c) => c.type === 'class_declaration')
    .map((node) => {
      const id = childOf(node, 'identifier');
      const spec = childOf(node, 'delegation_specifiers');
      // `: Base(args)` or `: Base`; an interface list names the first only, which is all we follow.
      const first = spec && named(spec)[0];
      const user = first && (first.type === 'user_type' ? first : first.descendantsOfType('user_type')[0]);
      const parent = user && ident(childOf(user, 'identifier', 'type_identifier')?.text ?? user.text.split('<')[0]);
      return { node, name: id ? ident(id.text) : null, parent: parent || null };
    })
    .filter((c) => c.name);
}

class FileCheck {
  constructor(model, lang, path, tree, ownTypes, visibility = null) {
    Object.assign(this, { model, lang, path, tree, ownTypes, visibility });
    this.env = new Map();
    this.lambdas = new Map(); // lambda node id -> Map param name -> type ref | null
    this.problems = [];
    this.checked = 0;
  }

  /** Whether a type name written in this file means PatrolKit's type. */
  visible(name) {
    const v = this.visibility;
    const root = name.split('.')[0];
    // Only a PatrolKit name can be hidden (a `List` is nobody's to hide).
    if (!v || !this.model.has(root)) return true;
    return !v.shadowed.has(root) && (v.all || v.names.has(root));
  }

  /** A type written in the source, as far as it is PatrolKit's. */
  written(ref) {
    if (!ref?.name || !this.visible(ref.name)) return null;
    return ref.elem && !this.visible(ref.elem.name) ? { ...ref, elem: null } : ref;
  }

  bind(name, ref) {
    if (!ref || !ref.name) return;
    const prev = this.env.get(name);
    if (prev === undefined) this.env.set(name, ref);
    else if (prev && (prev.name !== ref.name || prev.elem?.name !== ref.elem?.name)) this.env.set(name, null);
  }

  /** The type of an expression, as far as the source says. { name, elem, static } */
  typeOf(node) {
    if (!node) return null;
    const k = this.lang === 'kotlin';
    switch (node.type) {
      case 'identifier':
      case 'simple_identifier': {
        const name = ident(node.text);
        // A lambda's parameters (`it`, `$0`, `issue ->`) shadow the file's names.
        for (let p = node.parent; p; p = p.parent) {
          const scope = p.type === 'lambda_literal' && this.lambdas.get(p.id);
          if (scope && scope.has(name)) return scope.get(name);
        }
        if (name === 'it' || name === '$0') return null;
        if (this.env.get(name)) return this.env.get(name);
        if (this.model.has(name) && this.visible(name)) return { name, elem: null, static: true };
        return null;
      }
      case 'this_expression':
      case 'self_expression': {
        // The enclosing class, by its qualified name if it is nested.
        const names = [];
        for (let p = node.parent; p; p = p.parent) {
          if (!['class_declaration', 'object_declaration'].includes(p.type)) continue;
          const n = k ? childOf(p, 'identifier') : (childOf(p, 'type_identifier') ?? childOf(childOf(p, 'user_type') ?? p, 'type_identifier'));
          if (n) names.unshift(ident(n.text));
        }
        const name = names.join('.');
        return name && this.model.has(name) ? { name, elem: null } : null;
      }
      case 'parenthesized_expression':
      case 'try_expression':
      case 'await_expression':
        return this.typeOf(named(node).find((c) => !['try_operator'].includes(c.type)));
      case 'postfix_expression':
      case 'postfix_unary_expression':
        return /(!!|!)$/.test(node.text) ? this.typeOf(named(node)[0]) : null;
      case 'navigation_expression': {
        const [recv, name] = this.navParts(node);
        const t = this.typeOf(recv);
        if (!t || !name) return null;
        const m = t.static ? this.model.static(t.name, name) : this.model.member(t.name, name);
        // `ItemAnswer.Text` is the nested type itself, not a value of it.
        const nested = t.static && m?.type?.name === `${t.name}.${name}`;
        return m?.type ? { ...m.type, static: nested } : null;
      }
      case 'call_expression': {
        const callee = named(node)[0];
        if ((callee.type === 'identifier' || callee.type === 'simple_identifier') && this.model.has(ident(callee.text)) && this.visible(ident(callee.text))) {
          return { name: ident(callee.text), elem: null };
        }
        if (callee.type !== 'navigation_expression') return null;
        const t = this.typeOf(callee);
        return t?.static ? { name: t.name, elem: null } : t;
      }
      default:
        return null;
    }
  }

  /** [receiver node, member name] of `a.b`. */
  navParts(node) {
    const kids = named(node);
    if (this.lang === 'kotlin') {
      const last = kids[kids.length - 1];
      return [kids[0], last && last.id !== kids[0].id && last.type === 'identifier' ? ident(last.text) : null];
    }
    const suffix = childOf(node, 'navigation_suffix');
    const n = suffix && childOf(suffix, 'simple_identifier');
    return [kids[0]?.id === suffix?.id ? null : kids[0], n ? n.text : null];
  }

  /** First pass: what the file declares about its names. */
  collect() {
    const k = this.lang === 'kotlin';
    const walk = (n) => {
      if (k) {
        if (n.type === 'class_parameter' || n.type === 'parameter') {
          const id = childOf(n, 'identifier');
          if (id) this.bind(ident(id.text), this.written(typeRef('kotlin', childOf(n, 'user_type', 'nullable_type'))));
        } else if (n.type === 'property_declaration') {
          const v = childOf(n, 'variable_declaration');
          const id = v && childOf(v, 'identifier');
          if (id) {
            const declared = this.written(typeRef('kotlin', childOf(v, 'user_type', 'nullable_type')));
            const init = named(n).find((c) => c.id !== v.id && c.startIndex > v.endIndex - 1 && !['modifiers', 'user_type'].includes(c.type));
            this.bind(ident(id.text), declared ?? (init && this.strip(this.typeOf(init))));
          }
        } else if (n.type === 'for_statement') {
          const v = childOf(n, 'variable_declaration');
          const id = v && childOf(v, 'identifier');
          const coll = named(n).find((c) => c.id !== v?.id && c.type !== 'control_structure_body' && c.type !== 'block');
          const t = coll && this.typeOf(coll);
          if (id && t?.elem) this.bind(ident(id.text), t.elem);
        } else if (n.type === 'lambda_literal') {
          this.bindLambda(n);
        }
      } else {
        if (n.type === 'parameter') {
          const ids = named(n).filter((c) => c.type === 'simple_identifier');
          const ty = named(n).find((c) => ['user_type', 'optional_type', 'array_type'].includes(c.type));
          if (ids.length) this.bind(ids[ids.length - 1].text, this.written(typeRef('swift', ty)));
        } else if (n.type === 'property_declaration') {
          const p = childOf(n, 'pattern');
          const id = p && childOf(p, 'simple_identifier');
          const ann = childOf(n, 'type_annotation');
          if (id) {
            const init = named(n).find((c) => c.startIndex > (ann ?? p).endIndex - 1 && !['modifiers', 'type_annotation', 'value_binding_pattern', 'computed_property'].includes(c.type));
            this.bind(id.text, (ann && this.written(typeRef('swift', named(ann)[0]))) ?? (init && this.strip(this.typeOf(init))));
          }
        } else if (n.type === 'for_statement') {
          const p = childOf(n, 'pattern');
          const id = p && childOf(p, 'simple_identifier');
          const coll = named(n).find((c) => c.startIndex > (p ?? n).endIndex - 1 && c.type !== 'statements');
          const t = coll && this.typeOf(coll);
          if (id && t?.elem) this.bind(id.text, t.elem);
        } else if (n.type === 'lambda_literal') {
          this.bindLambda(n);
        }
      }
      n.namedChildren.forEach(walk);
    };
    // Twice: a name's type may come from one bound later in the file.
    walk(this.tree.rootNode);
    walk(this.tree.rootNode);
  }

  strip(t) {
    return t && !t.static ? { name: t.name, elem: t.elem } : null;
  }

  /** `issues.forEach { issue -> … }`, `ForEach(issues) { issue in … }`: the element's type. */
  bindLambda(lambda) {
    // Its parameters, by name; typed below when the lambda runs over a known collection.
    let names;
    if (this.lang === 'kotlin') {
      const params = childOf(lambda, 'lambda_parameters');
      names = params ? params.descendantsOfType('identifier').map((c) => ident(c.text)) : ['it'];
    } else {
      const type = childOf(lambda, 'lambda_function_type');
      const params = type && childOf(type, 'lambda_function_type_parameters');
      names = params ? params.descendantsOfType('simple_identifier').map((c) => c.text) : ['$0'];
    }
    const scope = this.lambdas.get(lambda.id) ?? new Map(names.map((n) => [n, null]));
    this.lambdas.set(lambda.id, scope);
    let call = lambda.parent;
    while (call && !['call_expression'].includes(call.type)) call = call.parent;
    if (!call) return;
    const callee = named(call)[0];
    let coll = null;
    if (callee.type === 'navigation_expression') {
      const [recv, name] = this.navParts(callee);
      if (ELEMENT_LAMBDAS.has(name)) coll = this.typeOf(recv);
      else if (name === 'forEach' || name === 'items') coll = this.typeOf(recv);
    } else if (['identifier', 'simple_identifier'].includes(callee.type) && ['ForEach', 'items', 'List'].includes(callee.text)) {
      const args = call.descendantsOfType('value_argument')[0];
      const first = args && named(args).filter((c) => c.type !== 'value_argument_label')[0];
      coll = first && this.typeOf(first);
    }
    // The element is the first parameter (`forEachIndexed`'s index aside).
    if (!coll?.elem || !names.length) return;
    const first = named(callee).pop()?.text === 'forEachIndexed' && names.length > 1 ? names[1] : names[0];
    scope.set(first, coll.elem);
  }

  problem(node, msg) {
    this.problems.push(`${this.path}:${node.startPosition.row + 1}:${node.startPosition.column + 1}: ${msg}`);
  }

  /** The PatrolKit enum a value is of, when the source says (not the enum type itself). */
  enumOf(node) {
    const t = node && this.typeOf(node);
    return t && !t.static && this.model.types.get(t.name)?.enum ? t : null;
  }

  /** The text of a string literal, or null. */
  stringLiteral(node) {
    const types = this.lang === 'kotlin' ? ['string_literal'] : ['line_string_literal', 'multi_line_string_literal'];
    return node && types.includes(node.type) ? node.text : null;
  }

  /** Swift's `.name` shorthand (an expression or a `case` pattern): the name, or null. */
  shorthand(node) {
    if (this.lang !== 'swift' || !node || !['prefix_expression', 'pattern'].includes(node.type)) return null;
    const kids = node.children;
    const dot = kids.findIndex((c) => c.type === '.');
    const before = kids.slice(0, dot);
    if (dot < 0 || before.some((c) => c.type !== 'value_binding_pattern')) return null;
    const n = kids[dot + 1];
    return n?.type === 'simple_identifier' ? ident(n.text) : null;
  }

  /** A value that stands where a case of the enum `t` must: a case of it, and nothing else. */
  checkCase(value, t) {
    const text = this.stringLiteral(value);
    if (text !== null) {
      this.checked++;
      this.problem(value, `${t.name} is an enum: ${text} is a string, not one of its cases`);
      return;
    }
    const name = this.shorthand(value);
    if (name !== null) {
      this.checked++;
      // `.none` and `.some` are Optional's, for an optional value of the enum.
      if (!this.model.static(t.name, name) && !['none', 'some'].includes(name)) {
        this.problem(value, `PatrolKit defines no ${t.name}.${name}`);
      }
      return;
    }
    const other = this.enumOf(value);
    if (other && other.name !== t.name) {
      this.checked++;
      this.problem(value, `${value.text} is a ${other.name}, where a ${t.name} is compared`);
    }
  }

  /** Comparisons, `when` / `switch` and typed declarations: their enum cases. */
  checkEnumUses(n) {
    const k = this.lang === 'kotlin';
    const isEquality = k
      ? n.type === 'binary_expression' && n.children.some((c) => c.type === '==' || c.type === '!=')
      : n.type === 'equality_expression'
        || (n.type === 'infix_expression' && ['==', '!='].includes(childOf(n, 'custom_operator')?.text));
    if (isEquality) {
      // The Swift grammar reads `a == b || c == d` as `a == (b || (c == d))` (and `a == b ? x :
      // y` as `a == (b ? x : y)`): the operands of a comparison are the nearest ones.
      const logical = ['disjunction_expression', 'conjunction_expression'];
      const operands = named(n).filter((c) => c.type !== 'custom_operator');
      let [a, b] = [operands[0], operands[operands.length - 1]];
      while (!k && a && logical.includes(a.type)) a = named(a).pop();
      while (!k && b && [...logical, 'ternary_expression'].includes(b.type)) b = named(b)[0];
      const ta = this.enumOf(a);
      const tb = this.enumOf(b);
      if (ta) this.checkCase(b, ta);
      else if (tb) this.checkCase(a, tb);
    } else if (k && n.type === 'when_expression') {
      const subject = childOf(n, 'when_subject');
      const t = subject && this.enumOf(named(subject)[0]);
      if (!t) return;
      for (const entry of named(n).filter((c) => c.type === 'when_entry')) {
        const arrow = entry.children.findIndex((c) => c.type === '->');
        for (const cond of entry.children.slice(0, arrow).filter((c) => c.isNamed)) {
          this.checkCase(cond.type === 'when_condition' ? named(cond)[0] : cond, t);
        }
      }
    } else if (!k && n.type === 'switch_statement') {
      const t = this.enumOf(named(n).find((c) => c.type !== 'switch_entry'));
      if (!t) return;
      for (const entry of named(n).filter((c) => c.type === 'switch_entry')) {
        for (const sp of named(entry).filter((c) => c.type === 'switch_pattern')) {
          const pattern = childOf(sp, 'pattern');
          if (!pattern) continue;
          // A string case is a pattern around the literal.
          this.checkCase(named(pattern).find((c) => this.stringLiteral(c) !== null) ?? pattern, t);
        }
      }
    } else if (!k && n.type === 'property_declaration') {
      // `var category: Category = .facility`, `let open: [IssueStatus] = [.open, .assigned]`.
      const ann = childOf(n, 'type_annotation');
      const declared = ann && this.written(typeRef('swift', named(ann)[0]));
      if (!declared) return;
      const init = named(n).find((c) => c.startIndex > ann.endIndex - 1 && c.type !== 'computed_property');
      const t = this.model.types.get(declared.elem?.name ?? declared.name)?.enum ? (declared.elem ?? declared) : null;
      if (!t || !init) return;
      for (const v of declared.elem ? named(init).filter(() => init.type === 'array_literal') : [init]) this.checkCase(v, t);
    } else if (!k && n.type === 'call_expression') {
      // `[.open, .assigned].contains(job.status)`.
      const callee = named(n)[0];
      if (callee?.type !== 'navigation_expression') return;
      const [recv, name] = this.navParts(callee);
      if (name !== 'contains' || recv?.type !== 'array_literal') return;
      const arg = n.descendantsOfType('value_argument')[0];
      const t = arg && this.enumOf(named(arg).filter((c) => c.type !== 'value_argument_label')[0]);
      if (t) for (const v of named(recv)) this.checkCase(v, t);
    }
  }

  /** Second pass: every use of a PatrolKit name. */
  check() {
    const k = this.lang === 'kotlin';
    const universal = UNIVERSAL[this.lang];
    const walk = (n) => {
      this.checkEnumUses(n);
      if (k && n.type === 'user_type') {
        // `is ScanFlag.TooFast`: a nested type of a PatrolKit type must exist.
        const ids = named(n).filter((c) => c.type === 'identifier').map((c) => ident(c.text));
        while (ids.length > 1 && /^[a-z]/.test(ids[0])) ids.shift();
        if (ids.length > 1 && this.model.has(ids[0]) && this.visible(ids[0])) {
          this.checked++;
          if (!this.model.has(ids.join('.'))) this.problem(n, `PatrolKit defines no ${ids.join('.')}`);
        }
      }
      if (n.type === 'import' || n.type === 'import_header') {
        const q = n.text.replace(/^import\s+/, '').trim();
        const m = q.match(/^app\.patrol\.kit(\.ffi)?\.([A-Za-z_][A-Za-z0-9_]*)$/);
        if (m) {
          this.checked++;
          if (!this.model.has(m[2]) && !this.model.topLevel.has(m[2])) {
            this.problem(n, `PatrolKit defines no ${m[2]} (import ${q})`);
          }
        }
      } else if (n.type === 'navigation_expression') {
        const [recv, name] = this.navParts(n);
        const t = recv && this.typeOf(recv);
        if (t && name && (this.model.has(t.name))) {
          this.checked++;
          const found = t.static
            ? this.model.static(t.name, name) ?? (universal.has(name) ? {} : undefined)
            : this.model.reachable(t.name, name) ?? (universal.has(name) ? {} : undefined);
          if (!found) {
            const what = t.static ? `${t.name}.${name}` : `${t.name}.${name} (on ${recv.text})`;
            this.problem(n, `PatrolKit defines no ${what}`);
          }
        }
      } else if (n.type === 'call_expression') {
        // A constructor call: `ReportInput(…)`, or a nested type's `ItemAnswer.Text(…)`.
        const callee = named(n)[0];
        let name = callee && ['identifier', 'simple_identifier'].includes(callee.type) ? ident(callee.text) : null;
        if (callee?.type === 'navigation_expression') {
          const ct = this.typeOf(callee);
          if (ct?.static) name = ct.name;
        }
        const t = name && this.visible(name) && this.model.types.get(name);
        if (t && t.params && !this.ownTypes.has(name)) {
          for (const arg of n.descendantsOfType('value_argument')) {
            if (arg.parent?.parent?.id !== n.id && arg.parent?.parent?.parent?.id !== n.id) continue;
            const label = k
              ? (arg.children.some((c) => c.type === '=') ? childOf(arg, 'identifier') : null)
              : childOf(childOf(arg, 'value_argument_label') ?? arg, 'simple_identifier');
            if (!label || (!k && !childOf(arg, 'value_argument_label'))) continue;
            this.checked++;
            if (!t.params.has(ident(label.text))) this.problem(arg, `${name}(…) has no parameter ${ident(label.text)}`);
          }
        }
      }
      n.namedChildren.forEach(walk);
    };
    walk(this.tree.rootNode);
  }
}

// ---------------------------------------------------------------------------------------------

export async function run({ kotlinBindings, swiftBindings, roots, parsers, log = console.log }) {
  parsers = parsers ?? (await loadParsers());
  const problems = [];
  const stats = { kotlin: { files: 0, checked: 0 }, swift: { files: 0, checked: 0 }, byFile: {} };
  const models = { kotlin: new Model('kotlin'), swift: new Model('swift') };

  for (const f of filesUnder(kotlinBindings, ['.kt'])) {
    addKotlinDeclarations(models.kotlin, parsers.kotlin.parse(readFileSync(f, 'utf8')).rootNode);
  }
  for (const f of filesUnder(swiftBindings, ['.swift'])) {
    addSwiftDeclarations(models.swift, parsers.swift.parse(cleanGeneratedSwift(readFileSync(f, 'utf8'))).rootNode, { generated: true });
  }
  for (const lang of ['kotlin', 'swift']) {
    if (!models[lang].has(lang === 'kotlin' ? 'PatrolApp' : 'PatrolApp')) {
      problems.push(`the ${lang} bindings define no PatrolApp: are they generated?`);
    }
  }

  // Every app source; the repository layers (patrolkit, PatrolKit) are PatrolKit too.
  const sources = [];
  for (const root of roots) {
    if (!existsSync(root)) {
      problems.push(`${root}: no such folder`);
      continue;
    }
    for (const f of filesUnder(root, ['.kt', '.swift'], (p) => p.endsWith('/Generated'))) {
      const lang = EXT[f.slice(f.lastIndexOf('.'))];
      const tree = parsers[lang].parse(readFileSync(f, 'utf8'));
      const kit = /\/patrolkit\/src\/main\/|\/PatrolKit\/Sources\//.test(f);
      sources.push({ f, lang, tree, kit });
    }
  }
  const ownTypes = { kotlin: new Set(), swift: new Set() };
  for (const s of sources.filter((s) => s.kit)) {
    const before = new Set(models[s.lang].types.keys());
    (s.lang === 'kotlin' ? addKotlinDeclarations : addSwiftDeclarations)(models[s.lang], s.tree.rootNode);
    for (const k of models[s.lang].types.keys()) if (!before.has(k)) ownTypes[s.lang].add(k);
  }
  // Extensions the apps declare on PatrolKit types are theirs to call.
  for (const s of sources.filter((s) => s.lang === 'kotlin')) {
    for (const fn of named(s.tree.rootNode).filter((c) => c.type === 'function_declaration')) addKotlinExtension(models.kotlin, fn);
  }
  for (const s of sources.filter((s) => s.lang === 'swift' && !s.kit)) {
    for (const ext of named(s.tree.rootNode).filter((c) => c.type === 'class_declaration' && c.children.some((x) => x.type === 'extension'))) {
      addSwiftDeclarations(models.swift, { namedChildren: [ext] });
    }
  }

  // A type the iOS app declares itself shadows PatrolKit's of that name in the app's files.
  const appSwiftTypes = new Set();
  for (const s of sources.filter((s) => s.lang === 'swift' && !s.kit)) {
    for (const d of named(s.tree.rootNode).filter((c) => ['class_declaration', 'protocol_declaration'].includes(c.type))) {
      const n = !d.children.some((x) => x.type === 'extension') && childOf(d, 'type_identifier');
      if (n) appSwiftTypes.add(n.text);
    }
  }

  // Properties a Kotlin class inherits from the app's own classes (a view model's `repo`,
  // declared once in its base class): the typed properties of each class body, by class name.
  const kotlinClasses = new Map();
  for (const s of sources.filter((s) => s.lang === 'kotlin')) {
    const fc = new FileCheck(models.kotlin, 'kotlin', s.f, s.tree, new Set(), kotlinVisibility(s.tree.rootNode));
    fc.collect();
    for (const c of kotlinClassDeclarations(s.tree.rootNode)) {
      const props = new Map();
      for (const d of named(childOf(c.node, 'class_body') ?? { namedChildren: [] }).filter((x) => x.type === 'property_declaration')) {
        const v = childOf(d, 'variable_declaration');
        const id = v && childOf(v, 'identifier');
        const ref = id && fc.env.get(ident(id.text));
        if (ref) props.set(ident(id.text), ref);
      }
      // A name declared twice is nobody's to guess.
      kotlinClasses.set(c.name, kotlinClasses.has(c.name) ? { parent: null, props: new Map() } : { parent: c.parent, props });
    }
  }
  const inherited = (cls) => {
    const props = new Map();
    const seen = new Set([cls]);
    for (let p = kotlinClasses.get(cls)?.parent; p && !seen.has(p) && kotlinClasses.has(p); p = kotlinClasses.get(p).parent) {
      seen.add(p);
      for (const [name, ref] of kotlinClasses.get(p).props) if (!props.has(name)) props.set(name, ref);
    }
    return props;
  };

  for (const s of sources) {
    const rel = relative(process.cwd(), s.f);
    stats[s.lang].files++;
    for (const e of syntaxErrors(s.tree)) problems.push(`${rel}:${e}`);
    const visibility = s.lang === 'kotlin'
      ? kotlinVisibility(s.tree.rootNode)
      : {
        all: s.kit || /^\s*import\s+PatrolKit\b/m.test(s.tree.rootNode.text),
        names: new Set(),
        shadowed: s.kit ? new Set() : appSwiftTypes,
      };
    const fc = new FileCheck(models[s.lang], s.lang, rel, s.tree, new Set(), visibility);
    if (s.lang === 'kotlin') {
      for (const c of kotlinClassDeclarations(s.tree.rootNode)) {
        for (const [name, ref] of inherited(c.name)) fc.bind(name, ref);
      }
    }
    fc.collect();
    fc.check();
    stats[s.lang].checked += fc.checked;
    stats.byFile[rel] = fc.checked;
    problems.push(...fc.problems);
  }
  for (const lang of ['kotlin', 'swift']) {
    const { files, checked } = stats[lang];
    log(`${lang}: ${files} files parsed, ${checked} uses of PatrolKit names checked`);
    if (files > 0 && checked === 0) problems.push(`${lang}: no use of PatrolKit was found to check: the checker is broken`);
  }
  return { problems, stats, models };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    if (i < 0 || !args[i + 1]) {
      console.error(`usage: node check-sources.mjs --kotlin-bindings DIR --swift-bindings DIR ROOT...`);
      process.exit(2);
    }
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const kotlinBindings = opt('--kotlin-bindings');
  const swiftBindings = opt('--swift-bindings');
  const { problems } = await run({ kotlinBindings, swiftBindings, roots: args });
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(`\n${problems.length} problem(s) in the app sources`);
    process.exit(1);
  }
}
