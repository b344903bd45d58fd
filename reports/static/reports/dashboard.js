/* Draws the reports dashboard from the JSON the page embeds (id "report-data").
   No inline scripts: the CSP allows script-src 'self' only, and json_script data is not executed.
   Labels come from applicants and providers (company names): every tooltip is HTML, so each
   value that goes into one passes through esc() (ECharts' encodeHTML); axis labels and legends
   are drawn on the canvas as text. */
(function () {
  "use strict";

  var source = document.getElementById("report-data");
  if (!source || typeof echarts === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var palette = ["#9b1c1c", "#d97706", "#2563eb", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#6b7280", "#b45309", "#1f2937"];
  var charts = [];
  var esc = echarts.format.encodeHTML;

  function num(value) {
    return typeof value === "number" ? value : parseFloat(value || "0");
  }

  function money(value) {
    return num(value).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function draw(id, option) {
    var el = document.getElementById(id);
    if (!el) {
      return;
    }
    var chart = echarts.init(el);
    option.color = option.color || palette;
    chart.setOption(option);
    charts.push(chart);
  }

  function pie(id, rows, valueKey) {
    draw(id, {
      tooltip: {
        trigger: "item",
        formatter: function (p) { return esc(p.name) + "：" + esc(String(p.value)) + "（" + esc(String(p.percent)) + "%）"; }
      },
      legend: { type: "scroll", bottom: 0 },
      series: [{
        type: "pie",
        radius: ["35%", "65%"],
        data: rows.filter(function (r) { return num(r[valueKey]) > 0; })
          .map(function (r) { return { name: r.label || r.name, value: num(r[valueKey]) }; })
      }]
    });
  }

  function hbar(id, rows, nameKey) {
    var sorted = rows.slice().reverse();
    draw(id, {
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        formatter: function (items) {
          var r = sorted[items[0].dataIndex];
          return esc(String(r[nameKey])) + "<br>GPU小时：" + esc(String(r.gpu_hours)) + "<br>记录数：" +
            esc(String(r.records)) + "<br>费用：" + esc(money(r.cost)) + " 元";
        }
      },
      // The axis name sits under the axis, inside the grid's bottom margin: at the axis end it
      // ran past the right edge of the chart and was cut.
      grid: { left: 8, right: 24, top: 8, bottom: 36, containLabel: true },
      xAxis: { type: "value", name: "GPU小时", nameLocation: "middle", nameGap: 28 },
      // Long company names are cut on the axis; the tooltip shows them whole.
      yAxis: {
        type: "category",
        axisLabel: { width: 120, overflow: "truncate" },
        data: sorted.map(function (r) { return r[nameKey]; })
      },
      series: [{ type: "bar", data: sorted.map(function (r) { return r.gpu_hours; }) }]
    });
  }

  pie("chart-states", data.by_state, "count");

  draw("chart-monthly-counts", {
    tooltip: { trigger: "axis" },
    legend: { bottom: 0 },
    grid: { left: 8, right: 8, top: 24, bottom: 32, containLabel: true },
    xAxis: { type: "category", data: data.months },
    yAxis: { type: "value", name: "件", minInterval: 1 },
    series: [
      { name: "提交", type: "bar", data: data.monthly.submitted },
      { name: "审批通过", type: "bar", data: data.monthly.approved },
      { name: "兑现", type: "bar", data: data.monthly.paid_count }
    ]
  });

  var amountSeries = [
    { name: "申请金额", type: "bar", data: data.monthly.requested.map(num) },
    { name: "核定金额", type: "bar", data: data.monthly.granted.map(num) },
    { name: "兑现金额", type: "bar", data: data.monthly.paid.map(num) },
    { name: "累计核定", type: "line", yAxisIndex: 1, data: data.monthly.granted_cumulative.map(num) },
    { name: "累计兑现", type: "line", yAxisIndex: 1, data: data.monthly.paid_cumulative.map(num) }
  ];
  if (data.budget) {
    amountSeries[3].markLine = {
      symbol: "none",
      label: { position: "insideEndTop", formatter: "年度预算 " + money(data.budget.amount) },
      data: [{ yAxis: num(data.budget.amount) }]
    };
  }
  draw("chart-amounts", {
    tooltip: { trigger: "axis", valueFormatter: function (v) { return money(v) + " 元"; } },
    legend: { bottom: 0 },
    grid: { left: 8, right: 8, top: 32, bottom: 32, containLabel: true },
    xAxis: { type: "category", data: data.months },
    yAxis: [
      { type: "value", name: "当月（元）" },
      { type: "value", name: "累计（元）", max: data.budget ? function (v) { return Math.max(v.max, num(data.budget.amount)); } : null }
    ],
    series: amountSeries
  });

  var kinds = [["review", "审核时限"], ["payment", "兑现时限"], ["cycle", "兑现周期"]];
  var outcomes = [["on_time", "按期"], ["late", "超期"], ["overdue", "已超期未办结"], ["open", "办理中"], ["unknown", "无法计算"]];
  draw("chart-compliance", {
    color: ["#059669", "#b91c1c", "#f97316", "#2563eb", "#9ca3af"],
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { bottom: 0 },
    grid: { left: 8, right: 24, top: 8, bottom: 32, containLabel: true },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: kinds.map(function (k) { return k[1]; }) },
    series: outcomes.map(function (o) {
      return {
        name: o[1],
        type: "bar",
        stack: "total",
        data: kinds.map(function (k) { return data.compliance[k[0]][o[0]]; })
      };
    })
  });

  hbar("chart-providers", data.providers, "name");
  hbar("chart-scenarios", data.scenarios, "label");
  pie("chart-findings", data.findings, "count");

  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
