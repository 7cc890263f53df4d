/* lossdoctor HTML report: the charts (uPlot), the findings' spans, and the copy buttons.
   Data comes from the JSON block #ld-data; every string is put in the page with textContent
   (never innerHTML) and every listener with addEventListener. No network. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("ld-data").textContent);
  var L = data.labels;
  var HEIGHT = { loss: 300, metric: 220, lr: 170, grad_norm: 170 };
  var FEW = 80; // below this many points, raw points are drawn as dots
  // severity: [shade, text, line]
  var SEV = {
    error: ["rgba(214,39,40,0.13)", "#a50f15", "#d62728"],
    warning: ["rgba(242,183,1,0.17)", "#7a5c00", "#d9a400"],
    info: ["rgba(44,160,44,0.07)", "#1b6e1b", "#2ca02c"]
  };
  var px = uPlot.pxRatio;
  var charts = [];
  var groups = {};

  function fmt(v) {
    if (v == null || !isFinite(v)) return "--";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3).replace(/\.?0+e/, "e");
    return String(+v.toPrecision(5));
  }

  // Tick labels with as many digits as the tick spacing needs (3.1940025e+31, not 3.194e+31).
  function ticks(u, splits) {
    var step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 0;
    return splits.map(function (v) {
      if (v == null) return "";
      var a = Math.abs(v);
      if (!step || a === 0 || step >= a / 1e3) return fmt(v);
      var digits = Math.min(15, Math.ceil(Math.log10(a / step)) + 1);
      return a < 1e-3 || a >= 1e6 ? v.toExponential(digits - 1) : String(+v.toPrecision(digits));
    });
  }

  function axisSize(u, values) {
    var longest = 0;
    (values || []).forEach(function (s) { longest = Math.max(longest, String(s).length); });
    return Math.max(48, 16 + 8 * longest);
  }

  // Log axes: decades (with 2 and 5 between them over short ranges), at most ~8 labels.
  function logSplits(u, ai, min, max) {
    var lo = Math.floor(Math.log10(min)), hi = Math.ceil(Math.log10(max));
    var mults = hi - lo <= 1 ? [1, 1.5, 2, 3, 5, 7] : hi - lo <= 2 ? [1, 2, 5]
      : hi - lo <= 3 ? [1, 3] : [1];
    var every = Math.max(1, Math.ceil((hi - lo + 1) / 8));
    var out = [];
    for (var e = lo; e <= hi; e += every) {
      mults.forEach(function (m) {
        var v = m * Math.pow(10, e);
        if (v >= min && v <= max) out.push(v);
      });
    }
    return out.length >= 2 ? out : [min, max];
  }

  function fade(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  // [{x, y}] -> [xs, ys...] on the union of the x values (undefined where a column has none).
  function align(cols) {
    var set = new Set();
    cols.forEach(function (c) { c.x.forEach(function (v) { set.add(v); }); });
    var xs = Array.from(set).sort(function (a, b) { return a - b; });
    var at = new Map();
    xs.forEach(function (v, i) { at.set(v, i); });
    var out = [xs];
    cols.forEach(function (c) {
      var ys = new Array(xs.length).fill(undefined);
      c.x.forEach(function (v, i) { ys[at.get(v)] = c.y[i]; });
      out.push(ys);
    });
    return out;
  }

  function label(ctx, s, x, y, ink, edge, alignRight) {
    ctx.font = Math.round(11 * px) + "px sans-serif";
    var w = ctx.measureText(s).width, h = 15 * px, pad = 3 * px;
    var left = alignRight ? x - w - 2 * pad : x;
    ctx.fillStyle = "rgba(255,255,255,0.88)";
    ctx.fillRect(left, y, w + 2 * pad, h);
    ctx.strokeStyle = edge;
    ctx.lineWidth = px;
    ctx.strokeRect(left, y, w + 2 * pad, h);
    ctx.fillStyle = ink;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(s, left + pad, y + h / 2);
  }

  function star(ctx, x, y, r) {
    ctx.beginPath();
    for (var i = 0; i < 10; i++) {
      var a = Math.PI / 2 + i * Math.PI / 5, rr = i % 2 ? r * 0.45 : r;
      ctx.lineTo(x + rr * Math.cos(a), y - rr * Math.sin(a));
    }
    ctx.closePath();
    ctx.fillStyle = "#ffd700";
    ctx.fill();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = px;
    ctx.stroke();
  }

  function clipToPlot(u) {
    var b = u.bbox;
    u.ctx.save();
    u.ctx.beginPath();
    u.ctx.rect(b.left, b.top, b.width, b.height);
    u.ctx.clip();
  }

  function drawSpans(p) {
    return function (u) {
      var ctx = u.ctx, b = u.bbox;
      clipToPlot(u);
      p.spans.forEach(function (s) {
        var c = SEV[s.severity] || SEV.info;
        var a = u.valToPos(s.x0, "x", true), z = u.valToPos(s.x1, "x", true);
        if (s.marks.length) {
          ctx.setLineDash([5 * px, 4 * px]);
          ctx.strokeStyle = c[2];
          ctx.lineWidth = px;
          s.marks.forEach(function (m) {
            var xm = u.valToPos(m, "x", true);
            ctx.beginPath(); ctx.moveTo(xm, b.top); ctx.lineTo(xm, b.top + b.height); ctx.stroke();
          });
          ctx.setLineDash([]);
        } else if (z > a) {
          ctx.fillStyle = c[0];
          ctx.fillRect(a, b.top, z - a, b.height);
        } else {
          ctx.strokeStyle = c[2];
          ctx.lineWidth = 1.5 * px;
          ctx.beginPath(); ctx.moveTo(a, b.top); ctx.lineTo(a, b.top + b.height); ctx.stroke();
        }
      });
      u.ctx.restore();
    };
  }

  function drawMarks(p, bestIdx) {
    return function (u) {
      var ctx = u.ctx, b = u.bbox;
      clipToPlot(u);
      p.traces.forEach(function (t) {
        ctx.strokeStyle = t.color;
        ctx.lineWidth = 1.5 * px;
        var r = 3.5 * px, y = b.top + 5 * px;
        t.nonFinite.forEach(function (v) {
          var x = u.valToPos(v, "x", true);
          ctx.beginPath();
          ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r);
          ctx.moveTo(x - r, y + r); ctx.lineTo(x + r, y - r);
          ctx.stroke();
        });
      });
      p.spans.forEach(function (s, k) {
        var c = SEV[s.severity] || SEV.info;
        var a = Math.max(u.valToPos(s.x0, "x", true), b.left);
        var right = a > b.left + 0.7 * b.width;
        var x = right ? Math.min(u.valToPos(s.x1, "x", true), b.left + b.width) - 4 * px
          : a + 4 * px;
        label(ctx, s.label, x, b.top + (12 + 19 * (k % 6)) * px, c[1], c[2], right);
      });
      if (p.best && u.series[bestIdx] && u.series[bestIdx].show) {
        var bx = u.valToPos(p.best.x, "x", true);
        var range = p.limits;
        var by = u.valToPos(Math.min(range[1], Math.max(range[0], p.best.y)), "y", true);
        ctx.setLineDash([2 * px, 3 * px]);
        ctx.strokeStyle = "#333";
        ctx.lineWidth = px;
        ctx.beginPath(); ctx.moveTo(bx, b.top); ctx.lineTo(bx, b.top + b.height); ctx.stroke();
        ctx.setLineDash([]);
        star(ctx, bx, by, 9 * px);
      }
      u.ctx.restore();
    };
  }

  function syncZoom(key) {
    return function (u, scale) {
      if (scale !== "x" || u._ldSyncing) return;
      var s = u.scales.x;
      (groups[key] || []).forEach(function (o) {
        if (o === u || (o.scales.x.min === s.min && o.scales.x.max === s.max)) return;
        o._ldSyncing = true;
        o.setScale("x", { min: s.min, max: s.max });
        o._ldSyncing = false;
      });
    };
  }

  function emptyPanel(host, p) {
    var msg = document.createElement("p");
    msg.className = "empty";
    var n = 0;
    p.traces.forEach(function (t) { n += t.nonFinite.length; });
    msg.textContent = p.traces.map(function (t) { return t.label; }).join(", ") + ": " +
      L.no_finite + " (" + n + " " + L.non_finite_points + ")";
    host.appendChild(msg);
  }

  function panelChart(host, p, key) {
    if (p.low == null || p.high == null) { emptyPanel(host, p); return; }
    var range = p.limits, lo = p.low, hi = p.high;
    var clamp = function (v) { return Math.min(hi, Math.max(lo, v)); };
    var cols = [], reals = [];
    var series = [{ label: L[p.axis] || p.axis,
      value: function (u, v) { return v == null ? "--" : fmt(v); } }];
    p.traces.forEach(function (t) {
      if (!t.x) return;
      var smooth = !!t.sx;
      var few = t.x.length <= FEW;
      cols.push({ x: t.x, y: t.y.map(clamp) });
      reals.push(t.y);
      series.push({
        label: t.label, stroke: smooth ? fade(t.color, few ? 0.5 : 0.4) : t.color,
        width: smooth ? 1 : 2, points: { show: few, size: 5, fill: fade(t.color, 0.6) }
      });
      if (smooth) {
        cols.push({ x: t.sx, y: t.sy.map(clamp) });
        reals.push(null);
        series.push({ label: t.label + " (" + L.smoothed + ")", stroke: t.color, width: 2.2,
          points: { show: false } });
      }
      var out = t.y.map(function (v) { return v > hi || v < lo ? clamp(v) : undefined; });
      if (out.some(function (v) { return v !== undefined; })) {
        cols.push({ x: t.x, y: out });
        reals.push(t.y);
        series.push({ label: t.label + " (" + L.outlier + ")", stroke: "#000", fill: t.color,
          paths: function () { return null; }, outlier: true,
          points: { show: true, size: 9, width: 1, stroke: "#000", fill: t.color } });
      }
    });
    var bestIdx = -1;
    if (p.best) {  // a points-only series: the legend names it, drawMarks draws the star
      cols.push({ x: [p.best.x], y: [clamp(p.best.y)] });
      reals.push([p.best.y]);
      bestIdx = series.length;
      series.push({ label: p.best.label, stroke: "#000", fill: "#ffd700", outlier: true,
        paths: function () { return null; }, points: { show: false } });
    }
    var realCols = [];
    reals.forEach(function (r, i) { if (r) realCols.push({ x: cols[i].x, y: r }); });
    var aligned = align(cols.concat(realCols));
    var plotData = aligned.slice(0, cols.length + 1);
    var k = cols.length + 1;
    reals.forEach(function (r, i) {
      var s = series[i + 1];
      var real = r ? aligned[k++] : null;
      s.value = function (u, v, si, idx) {
        if (idx == null) return "--";
        return fmt(real ? real[idx] : v);
      };
    });
    var opts = {
      width: Math.max(320, host.clientWidth),
      height: HEIGHT[p.role] || 220,
      title: p.title,
      scales: {
        x: { time: false },
        y: p.log ? { distr: 3, log: 10, range: function () { return range; } }
          : { range: function () { return range; } }
      },
      series: series,
      axes: [
        { label: L[p.axis] || p.axis, grid: { stroke: "#eee" }, ticks: { stroke: "#ccc" } },
        { size: axisSize, grid: { stroke: "#eee" }, ticks: { stroke: "#ccc" },
          values: p.log ? function (u, splits) { return splits.map(fmt); } : ticks,
          splits: p.log ? logSplits : undefined,
          filter: p.log ? function (u, splits) { return splits; } : undefined }
      ],
      cursor: {
        sync: { key: key },
        hover: {
          prox: function (u, si) { return u.series[si].outlier ? 16 : null; }
        }
      },
      hooks: {
        drawClear: [drawSpans(p)], draw: [drawMarks(p, bestIdx)], setScale: [syncZoom(key)]
      }
    };
    var div = document.createElement("div");
    div.className = "chart role-" + p.role;
    host.appendChild(div);
    var u = new uPlot(opts, plotData, div);
    u._ldHost = host;
    charts.push(u);
    (groups[key] = groups[key] || []).push(u);
  }

  document.querySelectorAll(".charts[data-run]").forEach(function (host) {
    var i = +host.getAttribute("data-run");
    (data.runs[i] || []).forEach(function (p) {
      panelChart(host, p, "run" + i + "-" + p.axis);
    });
  });
  document.querySelectorAll(".charts[data-overlay]").forEach(function (host) {
    data.overlays.forEach(function (p, j) { panelChart(host, p, "overlay" + j); });
  });

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      charts.forEach(function (u) {
        u.setSize({ width: Math.max(320, u._ldHost.clientWidth), height: u.height });
      });
    }, 100);
  });

  // Copy buttons: remedies' code (button.copy[data-target]) and the explanations' code blocks.
  function fallbackCopy(s) {
    var ta = document.createElement("textarea");
    ta.value = s;
    ta.className = "offscreen";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing else to try */ }
    document.body.removeChild(ta);
  }
  function copy(s, btn) {
    var done = function () {
      btn.textContent = L.copied;
      setTimeout(function () { btn.textContent = L.copy; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(s).then(done, function () { fallbackCopy(s); done(); });
    } else {
      fallbackCopy(s);
      done();
    }
  }
  document.querySelectorAll("button.copy[data-target]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      copy(document.getElementById(btn.getAttribute("data-target")).textContent, btn);
    });
  });
  document.querySelectorAll(".md pre").forEach(function (pre) {
    var wrap = document.createElement("div");
    wrap.className = "code";
    var btn = document.createElement("button");
    btn.type = "button";
    btn.className = "copy";
    btn.textContent = L.copy;
    pre.parentNode.insertBefore(wrap, pre);
    wrap.appendChild(btn);
    wrap.appendChild(pre);
    btn.addEventListener("click", function () { copy(pre.textContent, btn); });
  });
})();
