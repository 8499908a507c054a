package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/cacheproof/cacheproof/compose"
	"github.com/cacheproof/cacheproof/scenarios"
)

// k8sObject is one manifest of shards.yaml, decoded strictly into its
// k8s.io/api type: a field the API does not have is an error, as
// `kubectl apply --validate=strict` would make it.
func k8sObjects(t *testing.T) map[string]any {
	t.Helper()
	b, err := compose.Files.ReadFile("k8s/shards.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]any{}
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("shards.yaml document %d: %v", i+1, err)
		}
		var head struct{ APIVersion, Kind string }
		if err := json.Unmarshal(js, &head); err != nil {
			t.Fatalf("shards.yaml document %d: %v", i+1, err)
		}
		var obj any
		switch head.APIVersion + " " + head.Kind {
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "batch/v1 Job":
			obj = &batchv1.Job{}
		default:
			t.Fatalf("shards.yaml document %d: unexpected %s %s", i+1, head.APIVersion, head.Kind)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Fatalf("shards.yaml document %d (%s): strict decode into k8s.io/api: %v", i+1, head.Kind, err)
		}
		objs[head.Kind] = obj
	}
	return objs
}

// The Indexed Job manifest decodes strictly into k8s.io/api's types, its
// scenario is a valid scenario, and every pod's command is one `cacheproof
// run` accepts: parsed by run's own flags with each completion index, the
// shard is i/completions, the metrics port is the container's.
func TestK8sManifestDecodesAndRunsTheCLI(t *testing.T) {
	objs := k8sObjects(t)
	cm, _ := objs["ConfigMap"].(*corev1.ConfigMap)
	job, _ := objs["Job"].(*batchv1.Job)
	pvc, _ := objs["PersistentVolumeClaim"].(*corev1.PersistentVolumeClaim)
	if cm == nil || job == nil || pvc == nil {
		t.Fatalf("shards.yaml holds %v; want a ConfigMap, a PersistentVolumeClaim and a Job", objs)
	}
	if _, err := scenarios.LoadBytes("shards.yaml:scenario.yaml", []byte(cm.Data["scenario.yaml"])); err != nil {
		t.Fatalf("the ConfigMap's scenario: %v", err)
	}
	spec := job.Spec
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion || spec.Completions == nil ||
		spec.Parallelism == nil || *spec.Parallelism != *spec.Completions {
		t.Fatalf("job: completion mode %v, completions %v, parallelism %v; want Indexed with all shards at once",
			spec.CompletionMode, spec.Completions, spec.Parallelism)
	}
	n := int(*spec.Completions)
	pod := spec.Template.Spec
	if len(pod.Containers) != 1 || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Fatalf("pod: %d containers, restart %s", len(pod.Containers), pod.RestartPolicy)
	}
	c := pod.Containers[0]
	if strings.Join(c.Command, " ") != "/bin/sh -c" || len(c.Args) != 1 {
		t.Fatalf("command %q args %q: want one shell line", c.Command, c.Args)
	}
	line, _, _ := strings.Cut(c.Args[0], ";")
	fields := strings.Fields(line)
	if len(fields) < 2 || fields[0] != "cacheproof" || fields[1] != "run" {
		t.Fatalf("the shell line starts %q, want cacheproof run", line)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	for i := 0; i < n; i++ {
		args := strings.Fields(strings.ReplaceAll(strings.Join(fields[2:], " "), "${JOB_COMPLETION_INDEX}", fmt.Sprint(i)))
		var stderr bytes.Buffer
		rs := &runState{stderr: &stderr}
		if code := rs.parseFlags(args); code != next {
			t.Fatalf("index %d: cacheproof run %q: exit %d: %s", i, args, code, stderr.String())
		}
		if rs.shard != i || rs.shards != n {
			t.Errorf("index %d runs shard %d/%d, want %d/%d (completions)", i, rs.shard, rs.shards, i, n)
		}
		if !strings.HasPrefix(rs.f.scenario, mounts["scenario"]+"/") || !strings.HasPrefix(rs.f.out, mounts["results"]+"/") {
			t.Errorf("index %d: scenario %s, out %s; not under the mounts %v", i, rs.f.scenario, rs.f.out, mounts)
		}
		_, port, _ := strings.Cut(rs.f.metricsAddr, ":")
		if len(c.Ports) != 1 || fmt.Sprint(c.Ports[0].ContainerPort) != port {
			t.Errorf("metrics on %s, container ports %v", rs.f.metricsAddr, c.Ports)
		}
	}
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e.Name] = true
	}
	if !env["REDIS_HOST"] || !env["REDIS_PORT"] {
		t.Errorf("env %v: the shards reach the external Redis through REDIS_HOST and REDIS_PORT", env)
	}
}

// A real cluster is out of reach here: kind and k3d run their nodes as
// containers of images (kindest/node, rancher/k3s) that this offline
// machine cannot pull, whether or not a Docker engine answers (.ci/docker.sh
// starts one for the container backend). The test says exactly that.
func TestK8sJobOnACluster(t *testing.T) {
	engine := "no Docker engine answers"
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").Output(); err == nil {
		engine = "a Docker engine answers (" + strings.TrimSpace(string(out)) + ")"
	}
	var tools []string
	for _, tool := range []string{"kind", "k3d"} {
		if _, err := exec.LookPath(tool); err == nil {
			tools = append(tools, tool+" is installed")
		} else {
			tools = append(tools, tool+" is not installed")
		}
	}
	t.Skipf("SKIP: no Kubernetes cluster can start here: kind and k3d need their node images (kindest/node, rancher/k3s), "+
		"which this machine cannot pull (%s; %s). The manifest is checked by strict decoding into k8s.io/api "+
		"(TestK8sManifestDecodesAndRunsTheCLI); compose/k8s/SHARDING.md walks through a run on a real cluster", engine, strings.Join(tools, ", "))
}
