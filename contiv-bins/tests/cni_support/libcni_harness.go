// libcni_harness: a small CNI runtime of contiv-rs's tests, built on
// Debian's libcni (the reference runtime library, golang-github-appc-cni-dev).
// It drives plugins exactly as container runtimes using libcni do: it
// loads a conflist, execs the plugins found in CNI_PATH with the CNI
// environment and the network configuration on stdin, caches results
// (CNI_CACHE_DIR), and passes the cached result to CHECK and DEL.
//
// Usage:
//
//	libcni_harness add   <conflist> <netns> <container-id> [ifname] [K=V;K=V]
//	libcni_harness check <conflist> <netns> <container-id> [ifname] [K=V;K=V]
//	libcni_harness del   <conflist> <netns> <container-id> [ifname] [K=V;K=V]
//	libcni_harness bench <conflist> <rounds> <netns>...
//
// add prints the result; errors are printed as JSON on stdout with exit
// status 1: {"error": "..."}, plus the plugin's "code", "msg" and
// "details" when the error is a CNI error. bench runs, <rounds> times, ADD on every namespace in order,
// then DEL on every namespace, and prints the latency of each call in
// nanoseconds: {"add":[...],"del":[...]}.
//
// Built offline by the tests:
//
//	GOPATH=$T/gopath:/usr/share/gocode GO111MODULE=off GOFLAGS= GOPROXY=off \
//	  GOCACHE=$T/gocache go build -o $T/libcni_harness libcni_harness.go
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func fail(err error) {
	body := map[string]interface{}{"error": err.Error()}
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		body["code"] = cniErr.Code
		body["msg"] = cniErr.Msg
		body["details"] = cniErr.Details
	}
	out, _ := json.Marshal(body)
	fmt.Println(string(out))
	os.Exit(1)
}

func config() *libcni.CNIConfig {
	paths := filepath.SplitList(os.Getenv("CNI_PATH"))
	cache := os.Getenv("CNI_CACHE_DIR")
	if cache == "" {
		return libcni.NewCNIConfig(paths, nil)
	}
	return libcni.NewCNIConfigWithCacheDir(paths, cache, nil)
}

func runtimeConf(netns, id, ifname, args string) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{
		ContainerID: id,
		NetNS:       netns,
		IfName:      ifname,
		CacheDir:    os.Getenv("CNI_CACHE_DIR"),
	}
	for _, kv := range strings.Split(args, ";") {
		if kv == "" {
			continue
		}
		parts := strings.SplitN(kv, "=", 2)
		if len(parts) == 2 {
			rt.Args = append(rt.Args, [2]string{parts[0], parts[1]})
		}
	}
	return rt
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: libcni_harness add|check|del <conflist> <netns> <container-id> [ifname] [args] | bench <conflist> <rounds> <netns>...")
		os.Exit(2)
	}
	cmd, confPath := os.Args[1], os.Args[2]
	list, err := libcni.ConfListFromFile(confPath)
	if err != nil {
		fail(err)
	}
	cni := config()
	ctx := context.Background()

	if cmd == "bench" {
		rounds, err := strconv.Atoi(os.Args[3])
		if err != nil {
			fail(err)
		}
		namespaces := os.Args[4:]
		var adds, dels []int64
		for r := 0; r < rounds; r++ {
			for i, ns := range namespaces {
				rt := runtimeConf(ns, fmt.Sprintf("bench-%d-%d", r, i), "eth0", "IgnoreUnknown=1")
				t0 := time.Now()
				if _, err := cni.AddNetworkList(ctx, list, rt); err != nil {
					fail(fmt.Errorf("ADD %s: %w", ns, err))
				}
				adds = append(adds, time.Since(t0).Nanoseconds())
			}
			for i, ns := range namespaces {
				rt := runtimeConf(ns, fmt.Sprintf("bench-%d-%d", r, i), "eth0", "IgnoreUnknown=1")
				t0 := time.Now()
				if err := cni.DelNetworkList(ctx, list, rt); err != nil {
					fail(fmt.Errorf("DEL %s: %w", ns, err))
				}
				dels = append(dels, time.Since(t0).Nanoseconds())
			}
		}
		out, _ := json.Marshal(map[string][]int64{"add": adds, "del": dels})
		fmt.Println(string(out))
		return
	}

	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "missing container id")
		os.Exit(2)
	}
	netns, id := os.Args[3], os.Args[4]
	ifname := "eth0"
	if len(os.Args) > 5 && os.Args[5] != "" {
		ifname = os.Args[5]
	}
	args := ""
	if len(os.Args) > 6 {
		args = os.Args[6]
	}
	rt := runtimeConf(netns, id, ifname, args)
	switch cmd {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := res.Print(); err != nil {
			fail(err)
		}
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", cmd)
		os.Exit(2)
	}
}
