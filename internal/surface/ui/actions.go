package ui

import (
	"strings"

	"jifen/internal/application"
	"jifen/internal/casefile"
	"jifen/internal/discrepancy"
	"jifen/internal/review"
)

// actionNames are the Chinese names of audited actions, for the auditor's
// pages; an unknown action shows its code.
var actionNames = map[string]string{
	"account.login": "登录", "account.logout": "退出", "account.logout_everywhere": "退出所有设备",
	"account.lockout": "账号锁定", "account.unlock": "解除锁定", "account.create": "创建账号",
	"account.disable": "停用账号", "account.enable": "启用账号", "account.password_change": "修改密码",
	"account.password_reset": "重置密码", "account.totp_enrol": "绑定动态口令", "account.totp_verify": "动态口令验证",
	"account.demo_password": "演示账号密码", "access.denied": "越权访问被拒绝",
	"role.grant_request": "申请授予角色", "role.grant_approved": "批准授予角色", "role.grant_rejected": "驳回授予角色",
	"role.revoke": "撤销角色", "config.change": "修改设置",
	"role.request": "提出权限申请", "role.review": "审核权限申请", "role.request_approved": "审批通过权限申请",
	"role.request_rejected": "驳回权限申请", "config.change_applied": "审批通过设置修改", "config.change_rejected": "驳回设置修改",
	"audit.export": "导出审计日志", "audit.purge": "归档审计日志",
	"round.create": "创建年度批次", "round.update": "修改年度批次",
	"employer.register": "单位注册", "employer.verify": "单位核验通过", "employer.reject": "单位核验不通过",
	"employer.regenerate_code": "重新生成单位注册码", "person.register": "申请人注册", "person.view_id_number": "查看完整身份证号",
	"person.read_application": "查阅申请档案", "person.read_attachment": "查阅申请材料", "person.read_discrepancy": "查阅比对差异",
	"link.request": "申请关联单位", "link.confirmed": "单位确认关联", "link.rejected": "单位拒绝关联", "link.unlinked": "解除关联",
	"attachment.add": "上传材料", "attachment.remove": "删除材料", "review.forward": "转交复查申请",
	"agency.connector_update": "修改委办局接口配置", "agency.connector_defaults": "生成委办局接口默认配置",
	"account.admin_request": "申请管理员账号操作", "account.admin_request_approved": "批准管理员账号操作",
	"account.admin_request_rejected": "驳回管理员账号操作", "account.session_end": "结束会话",
	"account.session_replaced": "会话被新登录替换", "account.register_duplicate": "重复注册",
	"person.register_duplicate": "重复注册申请人", "employer.invite": "邀请经办人", "employer.invite_accept": "接受经办人邀请",
	"check.run.start": "开始比对", "check.run.apply": "比对结果生效", "check.run.discard": "放弃比对结果",
	"precheck.consent": "同意预核验查询", "precheck.withdraw": "撤回预核验授权", "precheck.request": "申请预核验",
	"check.monitor": "比对监控", "application.rescore": "重新计算积分",
	"fraud.propose": "登记虚假材料", "fraud.approve": "审批通过虚假材料库记录", "fraud.reject": "驳回虚假材料库记录",
	"application.note": "申请办理记录",
	"calendar.set":     "修改工作日历", "calendar.remove": "删除工作日历设置", "casework.limit.set": "修改办理时限",
	"person.read_stats_cell": "查阅统计明细", "stats.drilldown": "查看统计明细", "stats.report.export": "下载统计报表",
	"stats.saved.create": "保存统计查询", "stats.saved.edit": "修改统计查询", "stats.saved.delete": "删除统计查询",
	"stats.saved.subscribe": "订阅统计报表", "stats.saved.unsubscribe": "取消订阅统计报表",
	"monitor.rule": "修改告警规则", "monitor.alert": "系统告警", "monitor.fault_open": "登记故障", "monitor.fault_review": "复核故障记录",
	"case.claim": "认领案件", "case.release": "释放案件", "case.assign": "分派案件", "case.access.denied": "无权办理的案件被拒绝",
}

// ActionName returns the Chinese name of an audited action code.
func ActionName(code string) string {
	if n, ok := actionNames[code]; ok {
		return n
	}
	if n := discrepancy.ActionName(code); n != code {
		return n
	}
	if n := casefile.ActionName(code); n != code {
		return n
	}
	if n := review.ActionName(code); n != code {
		return n
	}
	if s, ok := strings.CutPrefix(code, "application."); ok {
		if n := application.StatusName(application.Status(s)); n != "" {
			return "申请状态变为：" + n
		}
	}
	return code
}
