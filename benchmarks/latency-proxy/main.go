// A reverse proxy that adds a fixed delay to every request, and one to every new connection before its
// first bytes are read (what a real network's TCP handshake costs): a stand-in for a real network in
// front of the local registry, for benchmarks. It counts connections, and requests by kind and by path,
// and serves the counts at /_stats with the CPU time the proxy has used (/_stats?reset=1 clears the
// counts). Written in Go so that the proxy's own work takes little of the CPU the measured tool and the
// registry share.
//
//	latency-proxy -upstream http://127.0.0.1:5000 -delay 20ms [-connect-delay 20ms]
//
// prints "listening <port>" once it accepts connections.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"sync"
	"syscall"
	"time"
)

var kinds = []struct {
	name    string
	pattern *regexp.Regexp
}{
	{"ping", regexp.MustCompile(`^/v2/?$`)},
	{"catalog", regexp.MustCompile(`^/v2/_catalog`)},
	{"tags", regexp.MustCompile(`^/v2/.+/tags/list`)},
	{"manifest", regexp.MustCompile(`^/v2/.+/manifests/`)},
	{"blob", regexp.MustCompile(`^/v2/.+/blobs/`)},
}

type stats struct {
	sync.Mutex
	Connections int            `json:"connections"`
	Counts      map[string]int `json:"counts"`
	Paths       map[string]int `json:"paths"`
	CPU         float64        `json:"cpu_seconds"`
}

func cpuSeconds() float64 {
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano()).Seconds()
}

func kindOf(method, path string) string {
	kind := "other"
	for _, k := range kinds {
		if k.pattern.MatchString(path) {
			kind = k.name
			break
		}
	}
	if method != http.MethodGet {
		return method + " " + kind
	}
	return kind
}

// settingUp holds a new connection's first read back by the connection set-up time.
type settingUp struct {
	net.Conn
	once  sync.Once
	delay time.Duration
}

func (c *settingUp) Read(p []byte) (int, error) {
	c.once.Do(func() { time.Sleep(c.delay) })
	return c.Conn.Read(p)
}

type countingListener struct {
	net.Listener
	delay time.Duration
	seen  *stats
}

func (l *countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.seen.Lock()
	l.seen.Connections++
	l.seen.Unlock()
	return &settingUp{Conn: conn, delay: l.delay}, nil
}

func main() {
	upstream := flag.String("upstream", "", "the registry's URL")
	delay := flag.Duration("delay", 20*time.Millisecond, "added to every request")
	connectDelay := flag.Duration("connect-delay", -1, "added to every new connection (default: -delay)")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		fmt.Fprintln(os.Stderr, "-upstream must be a URL")
		os.Exit(2)
	}
	if *connectDelay < 0 {
		*connectDelay = *delay
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}
	seen := &stats{Counts: map[string]int{}, Paths: map[string]int{}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_stats" {
			seen.Lock()
			seen.CPU = cpuSeconds()
			body, _ := json.Marshal(seen)
			if r.URL.Query().Get("reset") == "1" {
				seen.Connections, seen.Counts, seen.Paths = 0, map[string]int{}, map[string]int{}
			}
			seen.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
			return
		}
		seen.Lock()
		seen.Counts[kindOf(r.Method, r.URL.Path)]++
		seen.Paths[r.Method+" "+r.URL.Path]++
		seen.Unlock()
		time.Sleep(*delay)
		proxy.ServeHTTP(w, r)
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening %d\n", listener.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	http.Serve(&countingListener{Listener: listener, delay: *connectDelay, seen: seen}, handler)
}
