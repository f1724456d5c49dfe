// Blood-pressure and glucose trend charts of a health account, from the page's JSON endpoint.
(function () {
  "use strict";

  var SYSTOLIC = "8480-6", DIASTOLIC = "8462-4", FASTING = "1558-6", RANDOM = "2339-0";

  function line(name, data, color) {
    return { name: name, type: "line", data: data, showSymbol: true, symbolSize: 5, lineStyle: { width: 1.5 }, itemStyle: { color: color } };
  }

  function target(name, value) {
    return { name: name, type: "line", data: [], markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#9aa5ad" }, label: { position: "insideEndTop", formatter: name + " " + value }, data: [{ yAxis: value }] } };
  }

  function chart(element, series, extra) {
    if (!element || !window.echarts) { return null; }
    var instance = window.echarts.init(element);
    instance.setOption(Object.assign({
      animation: false,
      grid: { left: 44, right: 16, top: 30, bottom: 28 },
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      xAxis: { type: "time" },
      yAxis: { type: "value", scale: true },
      series: series
    }, extra || {}));
    window.addEventListener("resize", function () { instance.resize(); });
    return instance;
  }

  function start() {
    var root = document.getElementById("records-trends");
    if (!root) { return; }
    var labels = root.dataset;
    fetch(root.dataset.seriesUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : {}; })
      .then(function (data) {
        chart(document.getElementById("records-bp"), [
          line(labels.labelSystolic, data[SYSTOLIC] || [], "#c0392b"),
          line(labels.labelDiastolic, data[DIASTOLIC] || [], "#2471a3"),
          target(labels.labelTarget, 140),
          target(labels.labelTarget, 90)
        ], { legend: { top: 0, data: [labels.labelSystolic, labels.labelDiastolic] } });
        chart(document.getElementById("records-glucose"), [
          line(labels.labelFasting, data[FASTING] || [], "#7d3c98"),
          line(labels.labelRandom, data[RANDOM] || [], "#b9770e"),
          target(labels.labelTarget, 7.0)
        ], { legend: { top: 0, data: [labels.labelFasting, labels.labelRandom] } });
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
