// Command rotor-build turns a Go plugin (a main package that registers its
// handlers with the rotor package) into a Rotor component.
//
//	rotor-build main.go -o plugin.wasm        # or the package's folder
//
// A plugin folder with a go.mod is built as that module (which requires
// rotor.dev/rotor, replaced by the SDK's folder); a lone main.go is built in
// a module made for it.
//
// It reads the plugin's sources to see which handlers it registers
// (rotor.Connect, rotor.Subscribe, …, rotor.Intercept), builds the package
// for wasip1 as a reactor with the build tags that compile in only those
// exports, embeds a WIT world that exports them, and makes the component
// with wasm-tools and the WASI preview1 reactor adapter. Host interfaces
// the plugin never calls are left out of the component by the Go linker and
// wasm-tools, so it imports only the host packages it uses.
//
// Tools: wasm-tools from $WASM_TOOLS or PATH, the adapter from
// $WASI_ADAPTER or -adapter (scripts/guest-tools installs both). The WIT
// comes from the repository's wit/ folder beside the SDK, or -wit.
package main

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// sdkPath is the import path of the SDK's root package.
const sdkPath = "rotor.dev/rotor"

// world is the name of the world written for the plugin.
const world = "rotor-build-plugin"

// registration says what one registration function of the SDK exports.
type registration struct {
	iface string // the exported WIT interface
	tag   string // the build tag that compiles in its export
}

// registrations are the SDK's registration functions.
var registrations = map[string]registration{
	"Connect":    {"connect-handler", "rotor_connect"},
	"Refresh":    {"refresh-handler", "rotor_refresh"},
	"Subscribe":  {"subscribe-handler", "rotor_subscribe"},
	"Publish":    {"publish-handler", "rotor_publish"},
	"RPC":        {"rpc-handler", "rotor_rpc"},
	"SubRefresh": {"sub-refresh-handler", "rotor_sub_refresh"},
	"MapPublish": {"map-publish-handler", "rotor_map_publish"},
	"MapRemove":  {"map-remove-handler", "rotor_map_remove"},
	"SharedPollRefresh":  {"shared-poll-refresh-handler", "rotor_shared_poll_refresh"},
	"NotifyCacheEmpty":   {"notify-cache-empty-handler", "rotor_notify_cache_empty"},
	"NotifyChannelState": {"notify-channel-state-handler", "rotor_notify_channel_state"},
	"Intercept":  {"interceptor", "rotor_interceptor"},
}

// hostInterfaces are the interfaces a plugin may import.
var hostInterfaces = []string{"log", "config", "kv", "centrifugo-api"}

type options struct {
	input, output, sdk, wit, wasmTools, adapter string
	keep                                        bool
}

func main() {
	var opts options
	var workdir string
	flag.StringVar(&opts.output, "o", "", "the component to write (required)")
	flag.StringVar(&opts.sdk, "sdk", "", "the SDK's folder (default: the working directory's module)")
	flag.StringVar(&opts.wit, "wit", "", "the WIT folder (default: wit/ at the repository root beside the SDK)")
	flag.StringVar(&opts.adapter, "adapter", os.Getenv("WASI_ADAPTER"), "the WASI preview1 reactor adapter")
	flag.StringVar(&workdir, "C", "", "change to this folder first")
	flag.BoolVar(&opts.keep, "keep", false, "keep the scratch folder and print where it is")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: rotor-build [flags] <main.go | package folder> -o plugin.wasm")
		flag.PrintDefaults()
	}
	// Flags may follow the input, as in `rotor-build main.go -o x.wasm`.
	args := os.Args[1:]
	var positional []string
	for len(args) > 0 {
		if err := flag.CommandLine.Parse(args); err != nil {
			os.Exit(2)
		}
		args = flag.Args()
		if len(args) > 0 {
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
	if len(positional) != 1 || opts.output == "" {
		flag.Usage()
		os.Exit(2)
	}
	opts.input = positional[0]
	if err := build(workdir, opts); err != nil {
		fmt.Fprintln(os.Stderr, "rotor-build:", err)
		os.Exit(1)
	}
}

func build(workdir string, opts options) error {
	sdk := opts.sdk
	if sdk == "" {
		var err error
		if sdk, err = os.Getwd(); err != nil {
			return err
		}
	}
	sdk, err := filepath.Abs(sdk)
	if err != nil {
		return err
	}
	if workdir != "" {
		if err := os.Chdir(workdir); err != nil {
			return err
		}
	}
	witDir := opts.wit
	if witDir == "" {
		witDir = filepath.Join(sdk, "..", "..", "wit")
	}
	for _, path := range []*string{&opts.input, &opts.output, &witDir, &opts.adapter} {
		if *path != "" {
			if *path, err = filepath.Abs(*path); err != nil {
				return err
			}
		}
	}
	if opts.adapter == "" {
		return errors.New("no WASI adapter: set $WASI_ADAPTER or pass -adapter (scripts/guest-tools installs one)")
	}
	wasmTools := os.Getenv("WASM_TOOLS")
	if wasmTools == "" {
		wasmTools = "wasm-tools"
	}

	dir := opts.input
	if info, err := os.Stat(dir); err != nil {
		return err
	} else if !info.IsDir() {
		dir = filepath.Dir(dir)
	}
	sources, err := goSources(dir)
	if err != nil {
		return err
	}
	registered, err := registeredHandlers(sources)
	if err != nil {
		return err
	}

	scratch, err := os.MkdirTemp("", "rotor-build-")
	if err != nil {
		return err
	}
	if opts.keep {
		fmt.Fprintln(os.Stderr, "rotor-build: scratch folder", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}

	// A plugin with its own go.mod builds where it is (its replace
	// directives name the SDK); a lone main.go gets a module made for it.
	module := dir
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		module = filepath.Join(scratch, "module")
		if err := prepareModule(module, sources, sdk); err != nil {
			return err
		}
	}
	var tags []string
	for _, name := range registered {
		tags = append(tags, registrations[name].tag)
	}
	core := filepath.Join(scratch, "core.wasm")
	goBuild := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath",
		"-tags", strings.Join(tags, ","), "-ldflags", "-s -w -checklinkname=0", "-o", core, ".")
	goBuild.Dir = module
	goBuild.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if err := run(goBuild); err != nil {
		return err
	}

	worldDir := filepath.Join(scratch, "wit")
	if err := writeWorld(worldDir, witDir, registered); err != nil {
		return err
	}
	embedded := filepath.Join(scratch, "embedded.wasm")
	if err := run(exec.Command(wasmTools, "component", "embed", worldDir, "-w", world, core, "-o", embedded)); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(opts.output), 0o755); err != nil {
		return err
	}
	if err := run(exec.Command(wasmTools, "component", "new", embedded,
		"--adapt", "wasi_snapshot_preview1="+opts.adapter, "-o", opts.output)); err != nil {
		return err
	}
	info, err := os.Stat(opts.output)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "rotor-build: %s (%d bytes) registers %s\n", opts.output, info.Size(), strings.Join(registered, ", "))
	return nil
}

// goSources are the plugin's Go files, tests left out.
func goSources(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var sources []string
	for _, path := range matches {
		if !strings.HasSuffix(path, "_test.go") {
			sources = append(sources, path)
		}
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	return sources, nil
}

// registeredHandlers are the SDK's registration functions the sources call,
// sorted.
func registeredHandlers(sources []string) ([]string, error) {
	found := map[string]bool{}
	fset := token.NewFileSet()
	for _, path := range sources {
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if file.Name.Name != "main" {
			return nil, fmt.Errorf("%s: a plugin is package main, not %s", path, file.Name.Name)
		}
		local := ""
		for _, spec := range file.Imports {
			if path, _ := strconv.Unquote(spec.Path.Value); path == sdkPath {
				local = "rotor"
				if spec.Name != nil {
					local = spec.Name.Name
				}
			}
		}
		if local == "" || local == "_" {
			continue
		}
		ast.Inspect(file, func(node ast.Node) bool {
			call, ok := node.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch fun := call.Fun.(type) {
			case *ast.SelectorExpr:
				if pkg, ok := fun.X.(*ast.Ident); ok && pkg.Name == local {
					if _, known := registrations[fun.Sel.Name]; known {
						found[fun.Sel.Name] = true
					}
				}
			case *ast.Ident:
				if _, known := registrations[fun.Name]; known && local == "." {
					found[fun.Name] = true
				}
			}
			return true
		})
	}
	if len(found) == 0 {
		return nil, errors.New("the plugin registers no handler: call rotor.Connect, rotor.Refresh, rotor.Subscribe, rotor.Publish, rotor.RPC, rotor.SubRefresh, rotor.MapPublish, rotor.MapRemove, rotor.SharedPollRefresh, rotor.NotifyCacheEmpty, rotor.NotifyChannelState or rotor.Intercept in an init function")
	}
	names := make([]string, 0, len(found))
	for name := range found {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// prepareModule lays out a module for a plugin without a go.mod in module:
// its sources and a go.mod that requires the SDK from its folder.
func prepareModule(module string, sources []string, sdk string) error {
	if err := os.MkdirAll(module, 0o755); err != nil {
		return err
	}
	for _, path := range sources {
		if err := copyFile(path, filepath.Join(module, filepath.Base(path))); err != nil {
			return err
		}
	}
	version, err := goVersion(filepath.Join(sdk, "go.mod"))
	if err != nil {
		return err
	}
	text := fmt.Sprintf("module rotorplugin\n\ngo %s\n\nrequire %s v0.0.0\n\nreplace %s => %s\n",
		version, sdkPath, sdkPath, strconv.Quote(sdk))
	return os.WriteFile(filepath.Join(module, "go.mod"), []byte(text), 0o644)
}

// goVersion is the `go` line of a go.mod.
func goVersion(goMod string) (string, error) {
	text, err := os.ReadFile(goMod)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(text), "\n") {
		if version, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(version), nil
		}
	}
	return "", fmt.Errorf("%s has no go line", goMod)
}

// writeWorld writes the WIT files of witDir and a world that exports the
// registered handlers and may import every host interface into dir.
func writeWorld(dir, witDir string, registered []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(witDir, "*.wit"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no WIT files in %s (pass -wit)", witDir)
	}
	for _, path := range files {
		if err := copyFile(path, filepath.Join(dir, filepath.Base(path))); err != nil {
			return err
		}
	}
	var text strings.Builder
	fmt.Fprintf(&text, "package rotor:centrifugo@0.1.0;\n\nworld %s {\n", world)
	for _, name := range hostInterfaces {
		fmt.Fprintf(&text, "    import %s;\n", name)
	}
	for _, name := range registered {
		fmt.Fprintf(&text, "    export %s;\n", registrations[name].iface)
	}
	text.WriteString("}\n")
	return os.WriteFile(filepath.Join(dir, world+".wit"), []byte(text.String()), 0o644)
}

func copyFile(from, to string) error {
	text, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, text, 0o644)
}

// run runs cmd and, if it fails, says so with its output.
func run(cmd *exec.Cmd) error {
	output, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, output)
	}
	return nil
}
