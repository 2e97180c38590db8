// The indicator explorer (voicescount/explorer.py writes its data; no framework, no requests).
// It only filters, draws and downloads what the page's inline data holds: every number and
// status is published as it is (rounded, worded, suppressed) by the cycle store.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function fill(msg, values) {
    return msg.replace(/\{(\w+)\}/g, function (m, k) {
      return k in values ? String(values[k]) : m;
    });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function option(select, value, text) {
    var o = el("option", { value: value }, text);
    select.appendChild(o);
  }

  function Explorer(root) {
    this.root = root;
    this.data = JSON.parse(root.querySelector("[data-vc=data]").textContent);
    this.text = this.data.text;
    var groups = this.data.groups, statuses = this.data.official_statuses;
    this.data.rows.forEach(function (r) { r.group = groups[r.grouping + "|" + r.code]; });
    this.data.official.forEach(function (o) { o.status_text = statuses[o.status]; });
    this.q = function (name) { return root.querySelector("[data-vc=" + name + "]"); };
    this.official = {};
    var self = this;
    this.data.official.forEach(function (o) { self.official[self.key(o)] = o; });
    this.changes = {};
    this.data.changes.forEach(function (c) { self.changes[c.cycle + "|" + c.variable] = c; });
    this.init();
  }

  Explorer.prototype.key = function (r) {
    return [r.cycle, r.variable, r.grouping, r.code].join("|");
  };

  Explorer.prototype.indicator = function () {
    var id = this.q("indicator").value;
    return this.data.indicators.filter(function (i) { return i.id === id; })[0];
  };

  Explorer.prototype.init = function () {
    var self = this, ind = this.q("indicator");
    this.data.indicators.forEach(function (i) {
      option(ind, i.id, i.code + " " + i.label);
    });
    ind.addEventListener("change", function () { self.fillChoices(); self.render(); });
    this.q("grouping").addEventListener("change", function () { self.render(); });
    this.q("cycle").addEventListener("change", function () { self.render(); });
    this.root.querySelectorAll("[data-vc=view]").forEach(function (r) {
      r.addEventListener("change", function () { self.showView(); });
    });
    this.q("download").addEventListener("click", function () { self.download(); });
    this.root.querySelector("form").hidden = false;
    this.q("download").hidden = false;
    this.fillChoices();
    this.render();
  };

  // The breakdowns and cycles the chosen indicator has (keeping the current choice if it can).
  Explorer.prototype.fillChoices = function () {
    var ind = this.indicator(), g = this.q("grouping"), c = this.q("cycle");
    var keepG = g.value, keepC = c.value || String(this.data.cycle);
    g.textContent = "";
    var groupings = ind.groupings.filter(function (x) { return x.id !== ""; });
    if (!groupings.length) groupings = ind.groupings;
    groupings.forEach(function (x) { option(g, x.id, x.label); });
    if (groupings.some(function (x) { return x.id === keepG; })) g.value = keepG;
    c.textContent = "";
    var cycles = this.data.cycles.filter(function (cy) {
      return this.data.rows.some(function (r) { return r.cycle === cy && r.variable === ind.id; });
    }, this);
    cycles.forEach(function (cy) { option(c, String(cy), String(cy)); });
    c.value = cycles.indexOf(Number(keepC)) >= 0 ? keepC : String(cycles[cycles.length - 1]);
  };

  // The rows of the current choice: all respondents first, then the breakdown's groups.
  Explorer.prototype.selection = function () {
    var ind = this.indicator(), g = this.q("grouping").value, cy = Number(this.q("cycle").value);
    var rows = this.data.rows.filter(function (r) {
      return r.cycle === cy && r.variable === ind.id && (r.grouping === "" || r.grouping === g);
    });
    rows.sort(function (a, b) { return (a.grouping === "" ? 0 : 1) - (b.grouping === "" ? 0 : 1); });
    var self = this;
    var hasOfficial = this.data.official.some(function (o) {
      return o.cycle === cy && o.variable === ind.id;
    });
    return {
      ind: ind, grouping: g, cycle: cy, hasOfficial: hasOfficial,
      groupingLabel: this.q("grouping").selectedOptions[0].textContent,
      rows: rows.map(function (r) { return { r: r, o: self.official[self.key(r)] }; })
    };
  };

  Explorer.prototype.columns = function (sel) {
    var t = this.text, cols = [t.col_group, t.col_estimate, t.col_ci, t.col_n];
    if (sel.hasOfficial) cols.push(t.col_official, t.col_official_year, t.col_comparison);
    cols.push(t.col_note);
    return cols;
  };

  // One row of the table (and of the CSV): the published strings, nothing recomputed.
  Explorer.prototype.cells = function (item, sel) {
    var r = item.r, o = item.o, t = this.text;
    var out = [r.group, r.suppressed ? "" : r.text, r.suppressed ? "" : r.ci,
               r.suppressed ? "" : String(r.n)];
    if (sel.hasOfficial) {
      var value = o && o.official_text ? o.official_text : "";
      if (o && !o.official_text && o.status === "official data missing") value = t.official_missing;
      out.push(value, o && o.year ? o.year : "", o ? o.status_text : "");
    }
    out.push(r.suppressed ? r.suppressed : (r.caution ? t.caution : ""));
    return out;
  };

  Explorer.prototype.render = function () {
    var sel = this.selection(), t = this.text;
    this.current = sel;
    var summary = this.q("summary");
    summary.textContent = "";
    var caption = fill(t.caption, {
      indicator: sel.ind.label, grouping: sel.groupingLabel, cycle: sel.cycle
    });
    summary.appendChild(el("p", { "class": "vc-x-updated" }, fill(t.updated, {
      indicator: sel.ind.label, grouping: sel.groupingLabel, cycle: sel.cycle,
      rows: sel.rows.length
    })));
    var ch = this.changes[sel.cycle + "|" + sel.ind.id];
    var p = el("p", { "class": "vc-x-progress" });
    if (ch) {
      var status = el("strong", { "class": "vc-x-status vc-x-status-" + ch.status,
                                  "data-status": ch.status }, ch.status_text);
      var parts = fill(t.progress, { previous: ch.previous, status: "\u0000", change: ch.change })
        .split("\u0000");
      p.appendChild(document.createTextNode(parts[0]));
      p.appendChild(status);
      p.appendChild(document.createTextNode(parts[1] + " " + t.progress_overall));
    } else {
      p.textContent = t.progress_none;
    }
    summary.appendChild(p);
    summary.appendChild(el("p", { "class": "vc-x-misses" }, this.misses(sel)));
    this.drawTable(sel, caption);
    this.drawChart(sel, caption);
    this.showView();
  };

  // "What official data misses": groups with a citizen-generated value and no official one.
  Explorer.prototype.misses = function (sel) {
    var t = this.text;
    if (!sel.hasOfficial) return t.no_official;
    var shown = sel.rows.filter(function (x) { return !x.r.suppressed; });
    var missing = shown.filter(function (x) {
      return x.o && x.o.status === "official data missing";
    }).length;
    var total = shown.filter(function (x) { return x.o; }).length;
    if (!missing) return t.misses_none;
    return fill(missing === total ? t.misses_all : t.misses, { missing: missing, total: total });
  };

  Explorer.prototype.drawTable = function (sel, caption) {
    var box = this.q("table"), self = this;
    box.textContent = "";
    var table = el("table", { "class": "vc-x-data" });
    table.appendChild(el("caption", {}, caption));
    var head = el("tr");
    this.columns(sel).forEach(function (c) { head.appendChild(el("th", { scope: "col" }, c)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    if (!sel.rows.length) {
      var tr = body.appendChild(el("tr"));
      tr.appendChild(el("td", { colspan: this.columns(sel).length }, this.text.no_rows));
    }
    sel.rows.forEach(function (item) {
      var tr = el("tr", { "class": item.r.suppressed ? "vc-x-suppressed" :
        (item.r.caution ? "vc-x-caution" : "") });
      self.cells(item, sel).forEach(function (v, i) {
        tr.appendChild(i === 0 ? el("th", { scope: "row" }, v) : el("td", {}, v));
      });
      body.appendChild(tr);
    });
    box.appendChild(table);
  };

  // A dot chart with CI whiskers: blue dots (hollow: use with caution), official values as
  // vermillion diamonds (Okabe-Ito: distinguishable with colour-blindness, and by shape).
  Explorer.prototype.drawChart = function (sel, caption) {
    var box = this.q("chart"), t = this.text, colours = this.data.colours;
    box.textContent = "";
    var id = this.root.id + "-svg";
    var rowH = 30, left = 210, right = 24, top = 12, width = 680;
    var height = top + rowH * Math.max(sel.rows.length, 1) + 44;
    var percent = sel.ind.unit === "percent";
    var hi = 100, lo = 0;
    if (!percent) {
      hi = 0;
      sel.rows.forEach(function (x) {
        if (!x.r.suppressed) hi = Math.max(hi, x.r.estimate, x.r.ci_high === undefined ? 0 : x.r.ci_high);
        if (x.o && x.o.official !== undefined) hi = Math.max(hi, x.o.official);
        if (!x.r.suppressed && x.r.ci_low !== undefined) lo = Math.min(lo, x.r.ci_low);
      });
      hi = hi > 0 ? Math.ceil(hi * 1.1) : 1;
    }
    var plotW = width - left - right;
    function X(v) { return left + (v - lo) / (hi - lo) * plotW; }
    var s = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
                         "aria-labelledby": id + "-title " + id + "-desc", "class": "vc-x-svg" });
    s.appendChild(svg("title", { id: id + "-title" }, caption));
    s.appendChild(svg("desc", { id: id + "-desc" }, t.chart_desc));
    var axisY = top + rowH * Math.max(sel.rows.length, 1);
    for (var k = 0; k <= 4; k++) {
      var v = lo + (hi - lo) * k / 4, x = X(v);
      s.appendChild(svg("line", { x1: x, x2: x, y1: top, y2: axisY, "class": "vc-x-grid" }));
      s.appendChild(svg("text", { x: x, y: axisY + 16, "text-anchor": "middle",
                                  "class": "vc-x-tick" }, String(Math.round(v * 100) / 100)));
    }
    s.appendChild(svg("text", { x: left + plotW / 2, y: axisY + 36, "text-anchor": "middle",
                                "class": "vc-x-axis" }, percent ? t.axis_percent : t.axis_score));
    sel.rows.forEach(function (item, i) {
      var r = item.r, y = top + rowH * i + rowH / 2;
      s.appendChild(svg("text", { x: left - 8, y: y + 4, "text-anchor": "end",
                                  "class": "vc-x-label" }, r.group));
      if (r.suppressed) {
        s.appendChild(svg("text", { x: left + 4, y: y + 4, "class": "vc-x-note" }, r.suppressed));
        return;
      }
      if (r.ci_low !== undefined) {
        s.appendChild(svg("line", { x1: X(r.ci_low), x2: X(r.ci_high), y1: y, y2: y,
                                    stroke: colours.cgd, "stroke-width": 2 }));
      }
      s.appendChild(svg("circle", { cx: X(r.estimate), cy: y, r: 5, stroke: colours.cgd,
        "stroke-width": 2, fill: r.caution ? "#FFFFFF" : colours.cgd,
        "class": r.caution ? "vc-x-dot vc-x-dot-caution" : "vc-x-dot" }));
      if (item.o && item.o.official !== undefined) {
        var ox = X(item.o.official), d = 6;
        s.appendChild(svg("path", { d: "M" + ox + " " + (y - d) + "l" + d + " " + d + "l" + (-d) +
          " " + d + "l" + (-d) + " " + (-d) + "z", fill: colours.official,
          "class": "vc-x-official" }));
      }
    });
    box.appendChild(s);
    var legend = el("p", { "class": "vc-x-legend" });
    legend.appendChild(el("span", { "class": "vc-x-key-cgd" }, "\u25CF " + t.legend_cgd));
    legend.appendChild(document.createTextNode(" "));
    if (sel.hasOfficial) {
      legend.appendChild(el("span", { "class": "vc-x-key-official" }, "\u25C6 " + t.legend_official));
    }
    box.appendChild(legend);
  };

  Explorer.prototype.showView = function () {
    var view = this.root.querySelector("[data-vc=view]:checked").value;
    this.q("chart").hidden = view !== "chart";
    this.q("table").hidden = view !== "table";
  };

  function csvCell(v) {
    var s = String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;  // a spreadsheet would run it (figures.formula_safe)
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  // The CSV of exactly the rows and columns shown (the table's strings), UTF-8 with a BOM.
  Explorer.prototype.csv = function () {
    var sel = this.current, self = this;
    var lines = [this.columns(sel).map(csvCell).join(",")];
    sel.rows.forEach(function (item) { lines.push(self.cells(item, sel).map(csvCell).join(",")); });
    return "\uFEFF" + lines.join("\n") + "\n";
  };

  Explorer.prototype.download = function () {
    var sel = this.current;
    var name = ["explorer", this.data.country, sel.cycle, sel.ind.id,
                sel.grouping.replace(/[^A-Za-z0-9_]+/g, "-") || "overall"].join("-") + ".csv";
    var url = URL.createObjectURL(new Blob([this.csv()], { type: "text/csv;charset=utf-8" }));
    var a = el("a", { href: url, download: name });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  };

  function start() {
    document.querySelectorAll("[data-vc-explorer]").forEach(function (root) {
      root.explorer = new Explorer(root);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
