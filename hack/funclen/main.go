// Command funclen lists the longest functions of hutch's non-test Go files, longest
// first, as "LINES FILE:LINE FUNCTION" (lines from the func keyword to the closing brace).
//
//	go run ./hack/funclen [-n 10] [-min 0] [DIR]
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type fn struct {
	name, pos string
	lines     int
}

func main() {
	n := flag.Int("n", 10, "how many to list (0: all)")
	minLines := flag.Int("min", 0, "list only functions of at least this many lines")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	var all []fn
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "tests" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.HasPrefix(d.Name(), "z") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			name := fd.Name.Name
			if fd.Recv != nil && len(fd.Recv.List) > 0 {
				t := fd.Recv.List[0].Type
				if s, ok := t.(*ast.StarExpr); ok {
					t = s.X
				}
				if id, ok := t.(*ast.Ident); ok {
					name = id.Name + "." + name
				}
			}
			start, end := fset.Position(fd.Pos()), fset.Position(fd.End())
			all = append(all, fn{name: name, pos: fmt.Sprintf("%s:%d", start.Filename, start.Line), lines: end.Line - start.Line + 1})
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].lines > all[j].lines })
	for i, f := range all {
		if *n > 0 && i >= *n || f.lines < *minLines {
			break
		}
		fmt.Printf("%4d %s %s\n", f.lines, f.pos, f.name)
	}
}
