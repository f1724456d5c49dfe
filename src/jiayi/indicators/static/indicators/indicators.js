// The indicator board's charts: units ranked with the target line, the monthly trend, and the
// sub-districts coloured by value. Loaded as a file because the CSP forbids inline scripts.
(function () {
  "use strict";

  var root = document.getElementById("indicator-charts");
  if (!root || typeof echarts === "undefined") return;
  var codeSelect = document.getElementById("ind-code");
  var ranking = echarts.init(document.getElementById("ind-ranking"));
  var trend = echarts.init(document.getElementById("ind-trend"));
  var map = echarts.init(document.getElementById("ind-map"));
  var COLOURS = { green: "#1f7a4d", amber: "#b7791f", red: "#b42318", none: "#8a979e" };
  var attr = function (name) { return root.getAttribute("data-" + name) || ""; };

  function query(extra) {
    var params = new URLSearchParams({ code: codeSelect.value, level: attr("level"), period: attr("period"), as_of: attr("as-of") });
    Object.keys(extra || {}).forEach(function (key) { params.set(key, extra[key]); });
    return params.toString();
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  function scale(unit) { return unit === "percent" ? 100 : 1; }
  function fmt(unit, value) {
    if (value === null || value === undefined) return "–";
    return unit === "percent" ? (value * 100).toFixed(1) + "%" : value.toFixed(2);
  }

  function targetLine(unit, target) {
    if (target === null || target === undefined) return undefined;
    return { symbol: "none", silent: true, lineStyle: { color: "#33424a", type: "dashed" },
      label: { position: "insideEndTop", formatter: attr("label-target") + " " + fmt(unit, target) }, data: [] };
  }

  function drawRanking(data) {
    var units = data.units.slice().reverse();
    var line = targetLine(data.unit, data.target);
    if (line) line.data = [{ xAxis: data.target * scale(data.unit) }];
    ranking.setOption({
      grid: { left: 8, right: 40, top: 10, bottom: 20, containLabel: true },
      tooltip: { trigger: "item", formatter: function (p) { var u = units[p.dataIndex]; return u.name + "<br>" + fmt(data.unit, u.value) + " (" + u.numerator + "/" + u.denominator + ")"; } },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: units.map(function (u) { return u.name; }), axisLabel: { width: 120, overflow: "truncate" } },
      series: [{ type: "bar", data: units.map(function (u) {
        return { value: u.value === null ? 0 : u.value * scale(data.unit), itemStyle: { color: COLOURS[u.status] || COLOURS.none } };
      }), markLine: line }]
    }, true);
  }

  function drawTrend(data) {
    var line = targetLine(data.unit, data.target);
    if (line) line.data = [{ yAxis: data.target * scale(data.unit) }];
    var pending = data.points.some(function (p) { return p.pending; });
    trend.setOption({
      title: { show: pending, text: attr("label-pending"), left: "center", top: 0, textStyle: { fontSize: 12, fontWeight: "normal", color: "#7a6200" } },
      grid: { left: 8, right: 20, top: pending ? 28 : 20, bottom: 20, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.points.map(function (p) { return p.date.slice(5); }) },
      yAxis: { type: "value" },
      series: [{ type: "line", name: attr("label-value"), data: data.points.map(function (p) { return p.value === null ? null : p.value * scale(data.unit); }), markLine: line }]
    }, true);
  }

  function drawMap(data) {
    var values = data.streets.filter(function (s) { return s.value !== null; }).map(function (s) { return s.value * scale(data.unit); });
    var low = values.length ? Math.min.apply(null, values) : 0;
    var high = values.length ? Math.max.apply(null, values) : 1;
    var visual = { min: low, max: high === low ? low + 1 : high, calculable: true, orient: "horizontal", left: "center", bottom: 0,
      inRange: { color: ["#b42318", "#f2d16b", "#1f7a4d"] } };
    if (data.geojson.features.length) {
      echarts.registerMap("jiayi-streets", data.geojson);
      map.setOption({
        tooltip: { trigger: "item", formatter: function (p) { return (p.data && p.data.label) + "<br>" + fmt(data.unit, p.data && p.data.raw); } },
        visualMap: visual,
        series: [{ type: "map", map: "jiayi-streets", roam: true, nameProperty: "name",
          data: data.streets.map(function (s) { return { name: s.code, label: s.name, raw: s.value, value: s.value === null ? null : s.value * scale(data.unit) }; }) }]
      }, true);
    } else {
      map.setOption({
        tooltip: { trigger: "item", formatter: function (p) { return p.data.label + "<br>" + fmt(data.unit, p.data.raw); } },
        visualMap: Object.assign(visual, { dimension: 2 }),
        xAxis: { type: "value", scale: true, show: false }, yAxis: { type: "value", scale: true, show: false },
        grid: { left: 10, right: 10, top: 10, bottom: 50 },
        series: [{ type: "scatter", symbolSize: 26, data: data.streets.filter(function (s) { return s.lon !== null; }).map(function (s) {
          return { label: s.name, raw: s.value, value: [s.lon, s.lat, s.value === null ? null : s.value * scale(data.unit)] };
        }) }]
      }, true);
    }
  }

  function load() {
    getJson(attr("ranking-url") + "?" + query()).then(drawRanking).catch(function () { ranking.clear(); });
    if (attr("unit")) getJson(attr("trend-url") + "?" + query({ unit: attr("unit") })).then(drawTrend).catch(function () { trend.clear(); });
    getJson(attr("map-url") + "?" + query()).then(drawMap).catch(function () { map.clear(); });
  }

  codeSelect.addEventListener("change", load);
  window.addEventListener("resize", function () { ranking.resize(); trend.resize(); map.resize(); });
  load();
})();
