// A reverse proxy that adds a fixed delay to every request, and one to every new connection before its
// first bytes are read (what a real network's TCP handshake costs): a stand-in for a real network in
// front of the local registry, for benchmarks. It counts connections, and requests by kind and by path,
// and serves the counts at /_stats with the CPU time the proxy has used and the time its requests
// spent in it, summed (/_stats?reset=1 clears the counts and that sum). Written in Go so that the
// proxy's own work takes little of the CPU the measured tool and the registry share.
//
// With -replay it keeps every 200 answer to a GET, and once asked POST /_replay it answers those from
// memory (after the same delay) instead of asking the registry again: a registry whose own work is done
// on other machines than the client's, as a remote one's is, with the answers the real one gave.
//
//	latency-proxy -upstream http://127.0.0.1:5000 -delay 20ms [-connect-delay 20ms] [-replay]
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
	"sync/atomic"
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
	Replayed    int            `json:"replayed"` // answers given from memory (-replay)
	Counts      map[string]int `json:"counts"`
	Paths       map[string]int `json:"paths"`
	CPU         float64        `json:"cpu_seconds"`
	// the requests' time in the handler, summed: from their headers read to their answers handed to the server
	Served float64 `json:"served_seconds"`
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

// answer is a registry's answer kept for replaying.
type answer struct {
	header http.Header
	body   []byte
}

type answers struct {
	sync.Mutex
	kept      map[string]answer
	replaying atomic.Bool
}

// keyOf: the path and query alone (each of the benchmark's manifests is in one format, whatever the
// Accept header asks for).
func keyOf(r *http.Request) string {
	return r.URL.RequestURI()
}

func (a *answers) find(r *http.Request) (answer, bool) {
	if r.Method != http.MethodGet || !a.replaying.Load() {
		return answer{}, false
	}
	a.Lock()
	defer a.Unlock()
	found, ok := a.kept[keyOf(r)]
	return found, ok
}

// keeping copies a 200 answer's body as it is written, to keep it once it is complete.
type keeping struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (k *keeping) WriteHeader(status int) {
	k.status = status
	k.ResponseWriter.WriteHeader(status)
}

func (k *keeping) Write(p []byte) (int, error) {
	if k.status == 0 {
		k.status = http.StatusOK
	}
	k.body = append(k.body, p...)
	return k.ResponseWriter.Write(p)
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
	replay := flag.Bool("replay", false, "keep the registry's answers to replay them after POST /_replay")
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
	kept := &answers{kept: map[string]answer{}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_stats" {
			seen.Lock()
			seen.CPU = cpuSeconds()
			body, _ := json.Marshal(seen)
			if r.URL.Query().Get("reset") == "1" {
				seen.Connections, seen.Replayed, seen.Served = 0, 0, 0
				seen.Counts, seen.Paths = map[string]int{}, map[string]int{}
			}
			seen.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
			return
		}
		if *replay && r.URL.Path == "/_replay" && r.Method == http.MethodPost {
			kept.replaying.Store(true)
			return
		}
		began := time.Now()
		defer func() {
			seen.Lock()
			seen.Served += time.Since(began).Seconds()
			seen.Unlock()
		}()
		seen.Lock()
		seen.Counts[kindOf(r.Method, r.URL.Path)]++
		seen.Paths[r.Method+" "+r.URL.Path]++
		seen.Unlock()
		time.Sleep(*delay)
		if found, ok := kept.find(r); ok {
			seen.Lock()
			seen.Replayed++
			seen.Unlock()
			for name, values := range found.header {
				w.Header()[name] = values
			}
			w.Write(found.body)
			return
		}
		if !*replay || r.Method != http.MethodGet {
			proxy.ServeHTTP(w, r)
			return
		}
		keep := &keeping{ResponseWriter: w}
		proxy.ServeHTTP(keep, r)
		if keep.status == http.StatusOK {
			kept.Lock()
			kept.kept[keyOf(r)] = answer{w.Header().Clone(), keep.body}
			kept.Unlock()
		}
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
