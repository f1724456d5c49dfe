// The early-warning page: the units on a map of the district and one unit's series with its
// expected value, threshold and alarm days. Loaded as a file because the CSP forbids inline scripts.
(function () {
  "use strict";

  var root = document.getElementById("surveillance");
  if (!root || typeof echarts === "undefined") return;
  var mapChart = echarts.init(document.getElementById("surv-map"));
  var seriesChart = echarts.init(document.getElementById("surv-series"));
  var unitSelect = document.getElementById("surv-unit");
  var codeSelect = document.getElementById("surv-code");
  var label = function (name) { return root.getAttribute("data-label-" + name) || name; };

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  function drawMap(data) {
    var hasBoundaries = data.geojson.features.length > 0;
    if (hasBoundaries) echarts.registerMap("jiayi-district", data.geojson);
    var points = data.units.map(function (unit) {
      return { name: unit.name, id: unit.id, code: unit.code, kind: unit.kind_label, alerts: unit.open_alerts, value: [unit.lon, unit.lat, unit.open_alerts] };
    });
    var option = {
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          if (!p.data || !p.data.code) return p.name;
          return p.data.name + "<br>" + p.data.kind + (p.data.alerts ? "<br>" + p.data.alerts + " " + label("alerts") : "");
        }
      },
      series: [{
        type: "scatter",
        coordinateSystem: hasBoundaries ? "geo" : "cartesian2d",
        data: points,
        symbolSize: function (value) { return value[2] > 0 ? 16 : 9; },
        itemStyle: { color: function (p) { return p.data.alerts > 0 ? "#c0391b" : "#1f7a64"; }, borderColor: "#fff", borderWidth: 1 }
      }]
    };
    if (hasBoundaries) {
      option.geo = { map: "jiayi-district", roam: true, itemStyle: { areaColor: "#eef3f1", borderColor: "#9db3ab" }, emphasis: { disabled: true }, label: { show: false } };
    } else {
      option.xAxis = { type: "value", scale: true, show: false };
      option.yAxis = { type: "value", scale: true, show: false };
      option.grid = { left: 10, right: 10, top: 10, bottom: 10 };
    }
    mapChart.setOption(option);
    mapChart.on("click", function (p) {
      if (p.data && p.data.id) { unitSelect.value = String(p.data.id); loadSeries(); }
    });
  }

  function loadSeries() {
    var url = root.getAttribute("data-series-url") + "?unit=" + encodeURIComponent(unitSelect.value) + "&code=" + encodeURIComponent(codeSelect.value);
    getJson(url).then(function (data) {
      var dates = data.points.map(function (p) { return p.date; });
      var alarms = data.points.filter(function (p) { return p.alarm; }).map(function (p) { return [p.date, p.count]; });
      seriesChart.setOption({
        title: { text: data.name + (data.detector ? " · " + data.detector : ""), textStyle: { fontSize: 13, fontWeight: 500 } },
        tooltip: { trigger: "axis" },
        legend: { top: 0, right: 0 },
        grid: { left: 40, right: 16, top: 40, bottom: 30 },
        xAxis: { type: "category", data: dates },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: label("count"), type: "bar", data: data.points.map(function (p) { return p.count; }), itemStyle: { color: "#8fb8ab" } },
          { name: label("expected"), type: "line", data: data.points.map(function (p) { return p.expected; }), showSymbol: false, lineStyle: { color: "#47607a" }, itemStyle: { color: "#47607a" } },
          { name: label("threshold"), type: "line", data: data.points.map(function (p) { return p.threshold; }), showSymbol: false, lineStyle: { type: "dashed", color: "#c0641b" }, itemStyle: { color: "#c0641b" } },
          { name: label("alarm"), type: "scatter", data: alarms, symbol: "triangle", symbolSize: 12, itemStyle: { color: "#c0391b" } }
        ]
      }, true);
    }).catch(function () { seriesChart.clear(); });
  }

  unitSelect.addEventListener("change", loadSeries);
  codeSelect.addEventListener("change", loadSeries);
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".surv-unit-link") : null;
    if (!link) return;
    unitSelect.value = link.getAttribute("data-unit");
    codeSelect.value = link.getAttribute("data-code");
    loadSeries();
  });
  window.addEventListener("resize", function () { mapChart.resize(); seriesChart.resize(); });
  getJson(root.getAttribute("data-map-url")).then(drawMap).catch(function () { mapChart.clear(); });
  if (unitSelect.value) loadSeries();
})();
