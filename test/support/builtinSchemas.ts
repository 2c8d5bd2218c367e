import * as path from "node:path";
import { ObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";
import * as ts from "typescript";

/**
 * Built-in Kubernetes kinds, checked with the `kubernetes-models` package (4.5.x: the OpenAPI
 * schema of Kubernetes v1.33.0). Two checks, both from that package:
 * - its compiled validators: types, enums, required fields;
 * - unknown fields: the package's validators accept any extra key, while the API server with
 *   strict field validation (`kubectl apply --validate=strict`) refuses a field its Go type does
 *   not have. The package declares every field of every type (generated from the same OpenAPI
 *   schema), so a field the declarations do not name is unknown. Maps (`labels`, `data`) are index
 *   signatures and accept any key; `unknown`/`any` fields (RawExtension) accept anything.
 */

interface Model {
  validate(): void;
}
type ModelClass = new (data: object) => Model;

const PACKAGE = "kubernetes-models";
const OBJECT_META = { module: "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta", name: "IObjectMeta" };

/** The package module of a built-in kind, or undefined when the package has none. */
function moduleOf(apiVersion: string, kind: string): string | undefined {
  const module = `${PACKAGE}/${apiVersion}/${kind}`;
  try {
    require.resolve(module);
    return module;
  } catch {
    return undefined;
  }
}

export function isBuiltinKind(apiVersion: string, kind: string): boolean {
  return moduleOf(apiVersion, kind) !== undefined;
}

/** The package's compiled validator for a kind: type, enum and required-field errors. */
export function modelErrors(manifest: { apiVersion: string; kind: string }): string[] {
  const module = moduleOf(manifest.apiVersion, manifest.kind);
  if (!module) {
    return [`kubernetes-models has no ${manifest.apiVersion} ${manifest.kind}`];
  }
  // The module path is computed from the manifest, which static imports cannot express.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Model = (require(module) as Record<string, ModelClass>)[manifest.kind];
  try {
    new Model(manifest).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/** The package's ObjectMeta validator, for the metadata of custom resources (the API server checks it as ObjectMeta). */
export function objectMetaErrors(metadata: object): string[] {
  try {
    new ObjectMeta(metadata).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/**
 * The package's type declarations for a set of kinds, loaded into one TypeScript program (built
 * once, for all the kinds a test run needs), and the unknown-field check over them.
 */
export class DeclaredFields {
  private readonly checker: ts.TypeChecker;
  private readonly types = new Map<string, ts.Type>();

  /** `kinds`: `apiVersion/kind` keys of built-in kinds. ObjectMeta is always loaded (custom resources' metadata). */
  constructor(kinds: readonly string[]) {
    const entries = kinds.map((key) => {
      const slash = key.lastIndexOf("/");
      const apiVersion = key.slice(0, slash);
      const kind = key.slice(slash + 1);
      const module = moduleOf(apiVersion, kind);
      if (!module) {
        throw new Error(`kubernetes-models has no ${apiVersion} ${kind}`);
      }
      return { key, module, name: `I${kind}` };
    });
    entries.push({ key: "ObjectMeta", ...OBJECT_META });

    const root = path.resolve(__dirname, "../..");
    const fileName = path.join(root, "declared-kinds.ts");
    const text = entries
      .map((entry, index) => `export type T${index} = import(${JSON.stringify(entry.module)}).${entry.name};`)
      .join("\n");
    const options: ts.CompilerOptions = {
      noEmit: true,
      strict: true,
      types: [],
      lib: ["lib.es5.d.ts"],
      moduleResolution: ts.ModuleResolutionKind.Node10,
      skipLibCheck: true,
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, version, onError, create) =>
      name === fileName ? ts.createSourceFile(name, text, version) : getSourceFile(name, version, onError, create);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => name === fileName || fileExists(name);
    const program = ts.createProgram([fileName], options, host);
    this.checker = program.getTypeChecker();

    const source = program.getSourceFile(fileName) as ts.SourceFile;
    source.statements.forEach((statement, index) => {
      const type = this.checker.getTypeAtLocation((statement as ts.TypeAliasDeclaration).name);
      if (type.flags & ts.TypeFlags.Any) {
        throw new Error(`could not load the declaration of ${entries[index].key} from ${entries[index].module}`);
      }
      this.types.set(entries[index].key, type);
    });
  }

  /** Fields of `value` that the declaration of `key` (`apiVersion/kind`, or `ObjectMeta`) does not have, as paths. */
  unknownFields(key: string, value: unknown, at = ""): string[] {
    const type = this.types.get(key);
    if (!type) {
      throw new Error(`${key} was not loaded`);
    }
    const found: string[] = [];
    this.walk(value, type, at, found);
    return found;
  }

  private walk(value: unknown, declared: ts.Type, at: string, found: string[]): void {
    if (value === null || typeof value !== "object") {
      return;
    }
    const type = this.objectPart(this.checker.getNonNullableType(declared));
    if (!type || type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) {
      return;
    }
    if (Array.isArray(value)) {
      const element = this.checker.getIndexInfoOfType(type, ts.IndexKind.Number)?.type;
      value.forEach((item, index) => element && this.walk(item, element, `${at}[${index}]`, found));
      return;
    }
    const map = this.checker.getIndexInfoOfType(type, ts.IndexKind.String)?.type;
    for (const [field, inner] of Object.entries(value)) {
      const property = type.getProperty(field);
      if (property) {
        this.walk(inner, this.checker.getTypeOfSymbol(property), `${at}.${field}`, found);
      } else if (map) {
        this.walk(inner, map, `${at}[${JSON.stringify(field)}]`, found);
      } else {
        found.push(`${at}.${field}`);
      }
    }
  }

  /** The object member of a union (`IntOrString` is `number | string`: no object part). */
  private objectPart(type: ts.Type): ts.Type | undefined {
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) {
      return type;
    }
    if (type.isUnion()) {
      return type.types.find((member) => member.flags & ts.TypeFlags.Object);
    }
    return type.flags & ts.TypeFlags.Object ? type : undefined;
  }
}
