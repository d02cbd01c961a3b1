// Interface text in Chinese (the founding users' language, the default) and English.
const TEXT = {
  zh: {
    appName: "订单聊天", signIn: "登录", signOut: "退出", user: "用户名", device: "设备",
    key: "密钥（nkey 种子）", keyHelp: "粘贴 `orderchat users creds 用户名 --device web` 生成的 .nk 文件内容，或选择该文件。",
    chooseFile: "选择密钥文件", demoSignIn: "演示账号（仅本机）", signInFailed: "登录失败", notYourKey: "这个密钥不属于用户 {user}",
    conversations: "会话", newChat: "对方用户名，例如 hongyun-pens", start: "发起聊天", noConversations: "还没有会话", online: "在线", offline: "离线",
    typing: "{who} 正在输入…", messagePlaceholder: "输入消息…", send: "发送", back: "返回",
    loadOlder: "加载更早的消息", you: "我", orderCard: "[订单] {id}", notice: "[通知]",
    order: "订单", revision: "第 {n} 版", total: "合计", qty: "数量", price: "单价", date: "交期",
    item: "商品", answer: "答复", timeline: "进度", showTimeline: "查看进度", hideTimeline: "收起进度",
    acceptAll: "全部接受", answerLines: "逐行答复", submitAnswers: "提交答复", rejectOrder: "拒绝订单",
    reason: "原因", confirmReject: "确认拒绝", cancel: "取消",
    accept: "接受", change: "修改", backorder: "缺货", reject: "拒绝",
    newQty: "新数量", newDate: "新交期", newPrice: "新单价", substitute: "替代商品编号", substituteName: "替代商品名称",
    acceptChanges: "接受修改", declineChanges: "拒绝修改", confirmDecline: "确认拒绝修改",
    amend: "修改订单", submitAmend: "提交修改", letter: "下载确认函", superseded: "已被第 {n} 版取代",
    waitingSupplier: "等待供应商答复", waitingBuyer: "等待采购方确认修改", changedTo: "改为",
    language: "EN", error: "出错了：{msg}", sent: "已发送", delivered: "已送达", read: "已读",
    "state.draft": "草稿", "state.sent": "已发送", "state.seen": "已查看", "state.confirmed": "已确认",
    "state.changes_proposed": "建议修改", "state.rejected": "已拒绝", "state.shipped": "已发货",
    "state.received": "已收货", "state.closed": "已关闭", "state.cancelled": "已取消",
    "answer.accepted": "接受", "answer.accepted_with_changes": "修改", "answer.backordered": "缺货", "answer.rejected": "拒绝",
    "event.created": "创建订单", "event.amended": "修改订单", "event.sent": "发送给供应商", "event.seen": "供应商已查看",
    "event.confirmed": "供应商确认", "event.changes_proposed": "供应商建议修改", "event.rejected": "供应商拒绝",
    "event.changes_accepted": "采购方接受修改", "event.changes_declined": "采购方拒绝修改", "event.shipped": "已发货",
    "event.received": "已收货", "event.closed": "已关闭", "event.cancelled": "已取消",
    "erp.erp_confirmed": "ERP 采购单已确认", "erp.erp_noted": "已记入 ERP 采购单", "erp.erp_needs_approval": "ERP 采购单待审批", "erp.erp_error": "ERP 同步出错（{state}）", "erp.erp_conflict": "ERP 采购单已被修改，未写回",
  },
  en: {
    appName: "Order chat", signIn: "Sign in", signOut: "Sign out", user: "User", device: "Device",
    key: "Key (nkey seed)", keyHelp: "Paste the .nk file written by `orderchat users creds USER --device web`, or choose the file.",
    chooseFile: "Choose key file", demoSignIn: "Demo parties (this machine only)", signInFailed: "Sign-in failed", notYourKey: "this key does not belong to {user}",
    conversations: "Chats", newChat: "Their user id, e.g. hongyun-pens", start: "Start chat", noConversations: "No conversations yet", online: "online", offline: "offline",
    typing: "{who} is typing…", messagePlaceholder: "Message…", send: "Send", back: "Back",
    loadOlder: "Load older messages", you: "You", orderCard: "[Order] {id}", notice: "[Notice]",
    order: "Order", revision: "revision {n}", total: "Total", qty: "Qty", price: "Price", date: "Date",
    item: "Item", answer: "Answer", timeline: "Timeline", showTimeline: "Show timeline", hideTimeline: "Hide timeline",
    acceptAll: "Accept all", answerLines: "Answer per line", submitAnswers: "Send answers", rejectOrder: "Reject order",
    reason: "Reason", confirmReject: "Reject", cancel: "Cancel",
    accept: "Accept", change: "Change", backorder: "Backorder", reject: "Reject",
    newQty: "New qty", newDate: "New date", newPrice: "New price", substitute: "Substitute SKU", substituteName: "Substitute name",
    acceptChanges: "Accept changes", declineChanges: "Decline changes", confirmDecline: "Decline",
    amend: "Amend order", submitAmend: "Send amendment", letter: "Download letter", superseded: "Superseded by revision {n}",
    waitingSupplier: "Waiting for the supplier", waitingBuyer: "Waiting for the buyer", changedTo: "now",
    language: "中文", error: "Error: {msg}", sent: "sent", delivered: "delivered", read: "read",
    "state.draft": "Draft", "state.sent": "Sent", "state.seen": "Seen", "state.confirmed": "Confirmed",
    "state.changes_proposed": "Changes proposed", "state.rejected": "Rejected", "state.shipped": "Shipped",
    "state.received": "Received", "state.closed": "Closed", "state.cancelled": "Cancelled",
    "answer.accepted": "Accepted", "answer.accepted_with_changes": "Changed", "answer.backordered": "Backordered", "answer.rejected": "Rejected",
    "event.created": "Order created", "event.amended": "Order amended", "event.sent": "Sent to supplier", "event.seen": "Seen by supplier",
    "event.confirmed": "Confirmed by supplier", "event.changes_proposed": "Supplier proposed changes", "event.rejected": "Rejected by supplier",
    "event.changes_accepted": "Buyer accepted changes", "event.changes_declined": "Buyer declined changes", "event.shipped": "Shipped",
    "event.received": "Received", "event.closed": "Closed", "event.cancelled": "Cancelled",
    "erp.erp_confirmed": "Purchase order confirmed in the ERP", "erp.erp_noted": "Noted on the ERP purchase order", "erp.erp_needs_approval": "Purchase order awaits approval in the ERP", "erp.erp_error": "ERP sync problem ({state})", "erp.erp_conflict": "Changed in the ERP meanwhile: not written back",
  },
};

let lang = localStorage.getItem("orderchat.lang") || "zh";

export function getLang() {
  return lang;
}

export function setLang(next) {
  lang = next;
  localStorage.setItem("orderchat.lang", next);
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
}

export function t(key, vars = {}) {
  const text = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

export function formatTime(iso) {
  return new Date(iso).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
}

export function formatDateTime(iso) {
  return new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

export function formatNumber(value) {
  if (value === null || value === undefined || value === "") return "";
  const n = Number(value);
  return Number.isFinite(n) ? n.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { maximumFractionDigits: 4 }) : String(value);
}
