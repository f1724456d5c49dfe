// The planning maps: a choropleth of the health portrait and the 15-minute access map. Loaded as a
// file because the CSP forbids inline scripts; the data come from the pages' JSON routes.
(function () {
  "use strict";
  if (typeof echarts === "undefined") return;

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  var portrait = document.getElementById("portrait");
  if (portrait) {
    var chart = echarts.init(document.getElementById("portrait-map"));
    var metric = document.getElementById("portrait-metric");
    var label = function (name) { return portrait.getAttribute("data-label-" + name) || name; };
    var data = null;
    var valueOf = function (area, key) {
      if (key === "index") return area.index_mean;
      if (key === "aged_65") return area.aged_65.rate;
      return area.conditions[key] ? area.conditions[key].rate : null;
    };
    var draw = function () {
      var key = metric.value;
      var values = data.areas.map(function (a) { return { name: a.code, label: a.name, value: valueOf(a, key) }; });
      var known = values.filter(function (v) { return v.value !== null; }).map(function (v) { return v.value; });
      chart.setOption({
        tooltip: { trigger: "item", formatter: function (p) {
          if (!p.data) return p.name;
          return p.data.label + "<br>" + metric.options[metric.selectedIndex].text + ": " + (p.data.value === null || p.data.value === undefined ? label("suppressed") : p.data.value);
        } },
        visualMap: { min: known.length ? Math.min.apply(null, known) : 0, max: known.length ? Math.max.apply(null, known) : 1, calculable: true, left: 0, bottom: 0, itemHeight: 90, inRange: { color: ["#e8f3ee", "#7fb8a4", "#1f6f5a"] } },
        series: [{ type: "map", map: "jiayi-portrait", roam: true, data: values, label: { show: false }, emphasis: { label: { show: false } }, itemStyle: { borderColor: "#fff" } }]
      }, true);
    };
    getJson(portrait.getAttribute("data-map-url")).then(function (d) {
      data = d;
      echarts.registerMap("jiayi-portrait", d.geojson);
      draw();
      metric.addEventListener("change", draw);
      if (d.drill) {
        chart.on("click", function (p) {
          if (p.data && p.data.name) window.location.href = portrait.getAttribute("data-drill-url") + "?area=" + encodeURIComponent(p.data.name);
        });
      }
    }).catch(function () { chart.clear(); });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  var accessRoot = document.getElementById("access");
  if (accessRoot) {
    var map = echarts.init(document.getElementById("access-map"));
    var text = function (name) { return accessRoot.getAttribute("data-label-" + name) || name; };
    getJson(accessRoot.getAttribute("data-map-url")).then(function (d) {
      echarts.registerMap("jiayi-access", d.geojson);
      var inReach = d.points.filter(function (p) { return p[2]; }).map(function (p) { return [p[0], p[1]]; });
      var beyond = d.points.filter(function (p) { return !p[2]; }).map(function (p) { return [p[0], p[1]]; });
      map.setOption({
        tooltip: { trigger: "item", formatter: function (p) { return p.data && p.data.name ? p.data.name : p.seriesName; } },
        legend: { top: 0, left: 0 },
        geo: { map: "jiayi-access", roam: true, itemStyle: { areaColor: "#f2f5f4", borderColor: "#9db3ab" }, emphasis: { disabled: true }, label: { show: false } },
        series: [
          { name: text("covered"), type: "scatter", coordinateSystem: "geo", data: inReach, symbolSize: 4, itemStyle: { color: "#5f9e8a" } },
          { name: text("uncovered"), type: "scatter", coordinateSystem: "geo", data: beyond, symbolSize: 4, itemStyle: { color: "#d9822b" } },
          { name: text("facility"), type: "scatter", coordinateSystem: "geo", symbol: "diamond", symbolSize: 11,
            data: d.facilities.map(function (f) { return { name: f.name, value: [f.lon, f.lat] }; }), itemStyle: { color: "#1f4e79", borderColor: "#fff", borderWidth: 1 } },
          { name: text("proposal"), type: "effectScatter", coordinateSystem: "geo", symbol: "pin", symbolSize: 26,
            data: d.proposals.map(function (p) { return { name: text("proposal") + " " + p.rank, value: [p.lon, p.lat] }; }),
            label: { show: true, formatter: function (p) { return String(p.dataIndex + 1); }, color: "#fff", fontSize: 11 }, itemStyle: { color: "#b3261e" } }
        ]
      });
    }).catch(function () { map.clear(); });
    window.addEventListener("resize", function () { map.resize(); });
  }
})();
