// Compiles every .py file of a Lambda asset for the function runtime's Python, with that Python's
// own compiler: Pyodide, CPython built for WebAssembly, whose npm release (package.json pins it)
// is the CPython release it is named after. Run by infra/bytecode.py at synth, with node, which the
// CDK needs anyway; nothing is downloaded.
//
//   node infra/bytecode.mjs <asset folder> <major.minor the runtime runs>
//
// Prints one JSON line: {"version", "cache_tag", "magic", "compiled"}. Exits non-zero (the message
// on stderr) when the Python here is not the runtime's or a file does not compile.
import { loadPyodide } from "pyodide";

const [folder, expected] = process.argv.slice(2);
if (!folder || !expected) {
  console.error("usage: node infra/bytecode.mjs <asset folder> <major.minor>");
  process.exit(2);
}
const pyodide = await loadPyodide();
pyodide.FS.mkdir("/asset");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: folder }, "/asset");
pyodide.globals.set("expected", expected);
try {
  const answer = pyodide.runPython(`
import importlib.util, json, pathlib, py_compile, sys
version = f"{sys.version_info.major}.{sys.version_info.minor}"
if version != expected:
    raise SystemExit(f"this compiler is Python {version}, the runtime is Python {expected}")
sources = sorted(p for p in pathlib.Path("/asset").rglob("*.py") if "__pycache__" not in p.parts)
for source in sources:
    try:
        py_compile.compile(
            str(source), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
        )
    except py_compile.PyCompileError as error:
        where = source.relative_to("/asset")
        raise SystemExit(f"{where} does not compile ({error.exc_type_name})") from None
json.dumps({
    "version": version,
    "cache_tag": sys.implementation.cache_tag,
    "magic": int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little"),
    "compiled": len(sources),
})
`);
  console.log(answer);
} catch (error) {
  console.error(String(error.message || error).trim().split("\n").pop().replace(/^SystemExit: /, ""));
  process.exit(1);
}
