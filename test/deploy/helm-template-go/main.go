// The reference for test/deploy/helm-template.ts: the chart rendered by Go's text/template with
// Sprig and Helm's include/toYaml/fail and .Files.Get, as Helm's engine sets them up (missingkey=zero, "<no
// value>" removed), after checking the values against values.schema.json with gojsonschema (as
// Helm 3 before 3.18 does). It reads {values, release, chart, dir} as JSON on stdin and prints
// {"files": {path: text}}, {"schema": problems} or {"error": message}. Built and run by
// helm-template-go.test.ts where Go and the Debian packages golang-github-masterminds-sprig-dev,
// golang-github-ghodss-yaml-dev and golang-github-xeipuuv-gojsonschema-dev are installed (GOPATH
// mode, GOPATH=/usr/share/gocode).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	sprig "github.com/Masterminds/sprig"
	"github.com/ghodss/yaml"
	"github.com/xeipuuv/gojsonschema"
)

type input struct {
	Values  map[string]interface{} `json:"values"`
	Release string                 `json:"release"`
	Chart   map[string]interface{} `json:"chart"`
	Dir     string                 `json:"dir"`
}

func main() {
	var in input
	data, _ := ioutil.ReadAll(os.Stdin)
	if err := json.Unmarshal(data, &in); err != nil {
		panic(err)
	}
	// Helm 3 (before 3.18) checks the values with gojsonschema before rendering.
	if schema, err := ioutil.ReadFile(filepath.Join(in.Dir, "values.schema.json")); err == nil {
		result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewGoLoader(in.Values))
		if err != nil {
			fmt.Println(`{"error":` + quote("schema: "+err.Error()) + `}`)
			return
		}
		if !result.Valid() {
			var problems []string
			for _, e := range result.Errors() {
				problems = append(problems, e.Field()+": "+e.Description())
			}
			fmt.Println(`{"schema":` + quote(strings.Join(problems, "; ")) + `}`)
			return
		}
	}
	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	funcs["toYaml"] = func(v interface{}) string {
		b, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(b), "\n")
	}
	funcs["include"] = func(name string, d interface{}) (string, error) {
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, d); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	t.Funcs(funcs)
	var names []string
	filepath.Walk(filepath.Join(in.Dir, "templates"), func(p string, info os.FileInfo, err error) error {
		if info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(filepath.Join(in.Dir, "templates"), p)
		names = append(names, rel)
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, _ := ioutil.ReadFile(filepath.Join(in.Dir, "templates", n))
		if _, err := t.New("croupier/templates/" + n).Parse(string(b)); err != nil {
			fmt.Println(`{"error":` + quote("parse: "+err.Error()) + `}`)
			return
		}
	}
	files := loadFiles(in.Dir)
	out := map[string]string{}
	for _, n := range names {
		if strings.HasPrefix(n, "_") {
			continue
		}
		full := "croupier/templates/" + n
		d := map[string]interface{}{
			"Values":       in.Values,
			"Chart":        in.Chart,
			"Release":      map[string]interface{}{"Name": in.Release, "Namespace": "default", "Service": "Helm", "IsInstall": true, "IsUpgrade": false},
			"Template":     map[string]interface{}{"Name": full, "BasePath": "croupier/templates"},
			"Capabilities": map[string]interface{}{},
			"Files":        files,
		}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, full, d); err != nil {
			fmt.Println(`{"error":` + quote(err.Error()) + `}`)
			return
		}
		out["templates/"+n] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	b, _ := json.Marshal(map[string]interface{}{"files": out})
	fmt.Println(string(b))
}

// chartFiles is Helm's .Files: the chart's files outside templates/ and its metadata; Get of a name
// it does not hold is "".
type chartFiles map[string][]byte

func (f chartFiles) Get(name string) string { return string(f[name]) }

func loadFiles(dir string) chartFiles {
	files := chartFiles{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "templates/") || strings.HasPrefix(rel, "charts/") ||
			rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json" {
			return nil
		}
		b, _ := ioutil.ReadFile(p)
		files[rel] = b
		return nil
	})
	return files
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }
