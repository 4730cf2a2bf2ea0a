// cadvisor: cAdvisor v0.52.1's library (container handlers, manager, Prometheus collector)
// behind a small command of our own. Lab test support, never shipped.
//
// Why not cAdvisor's own command: it is the nested module github.com/google/cadvisor/cmd,
// whose release tags the Go module proxy reachable here does not serve ("This module
// version is not available" for github.com/google/cadvisor/cmd@v0.52.1 and for the
// v0.52.1 commit). The library module github.com/google/cadvisor@v0.52.1 is served; every
// series and label on /metrics comes from it (metrics.NewPrometheusCollector, the same
// collector cAdvisor's /metrics handler registers). This command keeps the flags the
// runbook's Quadlet unit and the collection's cadvisor role pass (--podman, --port,
// --listen_ip, -logtostderr, ...) and serves /metrics and /healthz; the web UI and the
// REST API are left out.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/cadvisor/cache/memory"
	"github.com/google/cadvisor/container"
	v2 "github.com/google/cadvisor/info/v2"
	"github.com/google/cadvisor/manager"
	"github.com/google/cadvisor/metrics"
	"github.com/google/cadvisor/utils/sysfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	// the container runtimes cAdvisor's command registers (mesos aside)
	_ "github.com/google/cadvisor/container/containerd/install"
	_ "github.com/google/cadvisor/container/crio/install"
	_ "github.com/google/cadvisor/container/docker/install"
	_ "github.com/google/cadvisor/container/podman/install"
	_ "github.com/google/cadvisor/container/systemd/install"
)

var (
	listenIP        = flag.String("listen_ip", "", "IP to listen on, defaults to all IPs")
	port            = flag.Int("port", 8080, "port to listen")
	metricsPath     = flag.String("prometheus_endpoint", "/metrics", "endpoint of the Prometheus metrics")
	storageDuration = flag.Duration("storage_duration", 2*time.Minute, "how long to keep data stored")
	rawPrefixes     = flag.String("raw_cgroup_prefix_whitelist", "", "cgroup path prefixes collected even with -docker_only")
	envWhitelist    = flag.String("env_metadata_whitelist", "", "environment variable prefixes collected for containers")
	versionFlag     = flag.Bool("version", false, "print the version and exit")
)

// cAdvisor's own defaults for -disable_metrics (the expensive or niche metric kinds)
var disabledByDefault = container.MetricSet{
	container.MemoryNumaMetrics:              struct{}{},
	container.NetworkTcpUsageMetrics:         struct{}{},
	container.NetworkUdpUsageMetrics:         struct{}{},
	container.NetworkAdvancedTcpUsageMetrics: struct{}{},
	container.ProcessSchedulerMetrics:        struct{}{},
	container.ProcessMetrics:                 struct{}{},
	container.HugetlbUsageMetrics:            struct{}{},
	container.ReferencedMemoryMetrics:        struct{}{},
	container.CPUTopologyMetrics:             struct{}{},
	container.ResctrlMetrics:                 struct{}{},
	container.CPUSetMetrics:                  struct{}{},
}

func main() {
	klog.InitFlags(nil)
	defer klog.Flush()
	flag.Var(&disabledByDefault, "disable_metrics", "comma-separated list of metrics to disable")
	flag.Parse()
	if *versionFlag {
		fmt.Println("cAdvisor library v0.52.1 (dojo lab command)")
		return
	}

	included := container.AllMetrics.Difference(disabledByDefault)
	client := http.Client{Timeout: 10 * time.Second}
	m, err := manager.New(memory.New(*storageDuration, nil), sysfs.NewRealSysFs(), manager.HousekeepingConfigFlags,
		included, &client, strings.Split(*rawPrefixes, ","), strings.Split(*envWhitelist, ","), "", 0)
	if err != nil {
		klog.Fatalf("cannot create the container manager: %v", err)
	}
	if err := m.Start(); err != nil {
		klog.Fatalf("cannot start the container manager: %v", err)
	}

	machine := metrics.NewPrometheusMachineCollector(m, included)
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc(*metricsPath, func(w http.ResponseWriter, r *http.Request) {
		// the latest sample of every container, children included, as cAdvisor's handler asks
		opts := v2.RequestOptions{IdType: v2.TypeName, Count: 1, Recursive: true}
		reg := prometheus.NewRegistry()
		reg.MustRegister(
			metrics.NewPrometheusCollector(m, metrics.DefaultContainerLabels, included, clock.RealClock{}, opts),
			machine,
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-stop
		if err := m.Stop(); err != nil {
			klog.Errorf("stopping the container manager: %v", err)
		}
		klog.Infof("exiting on %v", sig)
		os.Exit(0)
	}()

	addr := fmt.Sprintf("%s:%d", *listenIP, *port)
	klog.Infof("cAdvisor (library v0.52.1) serving %s on %s", *metricsPath, addr)
	klog.Fatal(http.ListenAndServe(addr, mux))
}
