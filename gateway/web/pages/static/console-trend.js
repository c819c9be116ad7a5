// The weekly trend of findings on the regulator's overview, drawn with chart.js (served by the gateway).
document.addEventListener("DOMContentLoaded", () => {
  const data = document.getElementById("trend-data");
  const canvas = document.getElementById("trend-chart");
  if (!data || !canvas || typeof Chart === "undefined") return;
  const weeks = JSON.parse(data.textContent);
  const persian = new Intl.NumberFormat("fa-IR");
  const toPersianDigits = (text) => text.replace(/[0-9]/g, (d) => "۰۱۲۳۴۵۶۷۸۹"[d]);
  Chart.defaults.font.family = "Vazirmatn, sans-serif";
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: weeks.map((w) => toPersianDigits(w.week)),
      datasets: [{ label: "یافته‌ها", data: weeks.map((w) => w.findings), backgroundColor: "#0b5394" }],
    },
    options: {
      locale: "fa-IR",
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { reverse: true },
        y: { position: "right", beginAtZero: true, ticks: { precision: 0, callback: (v) => persian.format(v) } },
      },
      plugins: { legend: { rtl: true, textDirection: "rtl" }, tooltip: { rtl: true, textDirection: "rtl" } },
    },
  });
});
